import { createHash, randomBytes } from 'node:crypto';

/** `sk_<tenant id hex>_<key id hex>_<32 random bytes base64url>` */
const SECRET_PATTERN = /^sk_([0-9a-f]{32})_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

const hex = (uuid: string) => uuid.replaceAll('-', '').toLowerCase();
const uuid = (h: string) =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

/**
 * Makes a new API key secret. The tenant and key ids are in clear so the lookup can run under
 * the tenant's row-level security; only the random part is secret.
 */
export function generateApiKeySecret(tenantId: string, keyId: string): string {
  return `sk_${hex(tenantId)}_${hex(keyId)}_${randomBytes(32).toString('base64url')}`;
}

/** Splits a secret into its ids; `null` if it is not shaped like one. */
export function parseApiKeySecret(secret: string): { tenantId: string; keyId: string } | null {
  const match = SECRET_PATTERN.exec(secret);
  if (!match) return null;
  return { tenantId: uuid(match[1]!), keyId: uuid(match[2]!) };
}

/** What is stored: sha256, hex. The secret has 256 random bits, so a slow hash adds nothing. */
export const hashApiKeySecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Non-secret label shown in listings. */
export const apiKeyPrefix = (keyId: string): string => `sk_${hex(keyId).slice(0, 8)}`;
