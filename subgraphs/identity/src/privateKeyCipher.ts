import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';

/** How a private signing key is stored when a key-encryption secret is configured. */
export interface SealedJwk {
  enc: 'A256GCM';
  iv: string;
  ct: string;
  tag: string;
}

export const isSealed = (value: unknown): value is SealedJwk =>
  typeof value === 'object' && value !== null && (value as { enc?: unknown }).enc === 'A256GCM';

/**
 * Seals private signing keys with AES-256-GCM under a key derived (HKDF-SHA256) from the
 * operator's secret, so a database dump or a read through the application role does not hand
 * out the platform's token-signing keys.
 */
export class PrivateKeyCipher {
  private readonly key: Buffer;
  constructor(secret: string) {
    if (secret.length < 32) throw new Error('the signing-key secret must be at least 32 characters');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'somaagent', 'identity.signing_keys.private_jwk', 32));
  }

  seal(jwk: JWK): SealedJwk {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
    return {
      enc: 'A256GCM',
      iv: iv.toString('base64url'),
      ct: ct.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
    };
  }

  open(sealed: SealedJwk): JWK {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(sealed.iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as JWK;
    } catch {
      throw new Error(
        'a signing key cannot be decrypted: the signing-key secret differs from the one it was sealed with',
      );
    }
  }
}
