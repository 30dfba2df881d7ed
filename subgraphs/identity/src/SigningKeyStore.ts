import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type SignJWT } from 'jose';

const ALG = 'ES256';

/** A public key as published in the JWKS document. */
export interface PublicSigningJwk extends JWK {
  kid: string;
  alg: typeof ALG;
  use: 'sig';
}

interface SigningKeyRow {
  kid: string;
  public_jwk: JWK;
  private_jwk: JWK;
}

type PrivateKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * The platform's token signing keys, kept in `identity.signing_keys` so every process behind
 * the router signs and publishes the same set. The newest non-retired key signs; rotation
 * schedules the older keys' retirement `retireAfterSeconds` ahead, and until then they stay in
 * the JWKS, so tokens signed before a rotation keep verifying.
 */
export class SigningKeyStore {
  private readonly imported = new Map<string, Promise<PrivateKey>>();

  constructor(
    private readonly db: SqlDatabase,
    /** How long a replaced key stays published: twice the access-token lifetime. */
    private readonly retireAfterSeconds: number,
  ) {}

  /** Makes a first key when there is none (first start of a platform). */
  async ensureKey(): Promise<void> {
    const existing = await this.db.withScope({ tenantId: null }, (tx) =>
      tx.query('SELECT 1 FROM identity.signing_keys WHERE retired_at IS NULL LIMIT 1'),
    );
    if (existing.rowCount === 0) await this.rotate();
  }

  /** Adds a new signing key and schedules the retirement of the previous ones. */
  async rotate(): Promise<{ kid: string }> {
    const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await this.db.withScope({ tenantId: null }, async (tx) => {
      await tx.query(
        `UPDATE identity.signing_keys
            SET retired_at = now() + make_interval(secs => $1)
          WHERE retired_at IS NULL`,
        [this.retireAfterSeconds],
      );
      await tx.query(
        'INSERT INTO identity.signing_keys (kid, alg, public_jwk, private_jwk) VALUES ($1, $2, $3, $4)',
        [kid, ALG, JSON.stringify(publicJwk), JSON.stringify(privateJwk)],
      );
    });
    return { kid };
  }

  /** The JWKS document: every key that is not yet retired, newest first. */
  async jwks(): Promise<{ keys: PublicSigningJwk[] }> {
    const { rows } = await this.db.withScope({ tenantId: null }, (tx) =>
      tx.query<{ kid: string; public_jwk: JWK }>(
        `SELECT kid, public_jwk FROM identity.signing_keys
          WHERE retired_at IS NULL OR retired_at > now()
          ORDER BY created_at DESC, kid`,
      ),
    );
    return {
      keys: rows.map((r) => ({ ...parseJwk(r.public_jwk), kid: r.kid, alg: ALG, use: 'sig' })),
    };
  }

  /** Signs `token` with the current key, inside the caller's transaction. */
  async sign(tx: SqlExecutor, token: SignJWT): Promise<{ kid: string; jwt: string }> {
    const { rows } = await tx.query<SigningKeyRow>(
      `SELECT kid, public_jwk, private_jwk FROM identity.signing_keys
        WHERE retired_at IS NULL ORDER BY created_at DESC, kid LIMIT 1`,
    );
    const row = rows[0];
    if (!row) throw new Error('no signing key: call SigningKeyStore.ensureKey() at start-up');
    let key = this.imported.get(row.kid);
    if (!key) {
      key = importJWK(parseJwk(row.private_jwk), ALG);
      this.imported.set(row.kid, key);
    }
    const jwt = await token.setProtectedHeader({ alg: ALG, kid: row.kid, typ: 'at+jwt' }).sign(await key);
    return { kid: row.kid, jwt };
  }
}

// node-postgres parses jsonb; keep working if a driver hands back text.
const parseJwk = (value: JWK | string): JWK => (typeof value === 'string' ? JSON.parse(value) : value);
