import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type SignJWT } from 'jose';
import { isSealed, type PrivateKeyCipher, type SealedJwk } from './privateKeyCipher';

const ALG = 'ES256';

/** A public key as published in the JWKS document. */
export interface PublicSigningJwk extends JWK {
  kid: string;
  alg: typeof ALG;
  use: 'sig';
}

interface NewKey {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
}

type PrivateKey = Awaited<ReturnType<typeof importJWK>>;

// Serialises key bookkeeping across processes sharing the database (start-up and rotation).
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))`;
const ACTIVE = 'activated_at IS NOT NULL AND retired_at IS NULL';
const PENDING = 'activated_at IS NULL AND retired_at IS NULL';

async function newKey(): Promise<NewKey> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { kid: await calculateJwkThumbprint(publicJwk), publicJwk, privateJwk: await exportJWK(privateKey) };
}

async function insertKey(
  tx: SqlExecutor,
  key: NewKey,
  active: boolean,
  cipher: PrivateKeyCipher | undefined,
): Promise<void> {
  const stored = cipher ? cipher.seal(key.privateJwk) : key.privateJwk;
  await tx.query(
    `INSERT INTO identity.signing_keys (kid, alg, public_jwk, private_jwk, activated_at)
     VALUES ($1, $2, $3, $4, CASE WHEN $5::boolean THEN clock_timestamp() END)`,
    [key.kid, ALG, JSON.stringify(key.publicJwk), JSON.stringify(stored), active],
  );
}

/**
 * The platform's token signing keys, kept in `identity.signing_keys` so every process behind
 * the router signs with and publishes the same set.
 *
 * Zero-downtime rotation needs two things: tokens signed before a rotation must keep verifying
 * (the replaced key stays published for `retireAfterSeconds`), and tokens signed after it must
 * verify against JWKS documents verifiers fetched BEFORE it. So there is always one pending key,
 * published but not yet signing; rotation activates it and publishes a new pending one.
 */
export class SigningKeyStore {
  private readonly imported = new Map<string, Promise<PrivateKey>>();

  constructor(
    private readonly db: SqlDatabase,
    /** How long a replaced key stays published: twice the access-token lifetime. */
    private readonly retireAfterSeconds: number,
    /** Seals private keys at rest; without it they are stored as plain JWKs (development only). */
    private readonly cipher?: PrivateKeyCipher,
  ) {}

  /** Makes the active and the pending key when missing (first start of a platform). */
  async ensureKey(): Promise<void> {
    const [active, pending] = await Promise.all([newKey(), newKey()]);
    await this.db.withScope({ tenantId: null }, async (tx) => {
      await tx.query(LOCK);
      const hasActive = await tx.query(`SELECT 1 FROM identity.signing_keys WHERE ${ACTIVE} LIMIT 1`);
      if (hasActive.rowCount === 0) await insertKey(tx, active, true, this.cipher);
      const hasPending = await tx.query(`SELECT 1 FROM identity.signing_keys WHERE ${PENDING} LIMIT 1`);
      if (hasPending.rowCount === 0) await insertKey(tx, pending, false, this.cipher);
    });
  }

  /**
   * Activates the pending key (already in every JWKS fetched since it was made), schedules the
   * retirement of the previous active key and publishes a new pending key.
   * @returns the kid that signs from now on
   */
  async rotate(): Promise<{ kid: string }> {
    const [fallback, next] = await Promise.all([newKey(), newKey()]);
    return this.db.withScope({ tenantId: null }, async (tx) => {
      await tx.query(LOCK);
      await tx.query(
        `UPDATE identity.signing_keys SET retired_at = now() + make_interval(secs => $1) WHERE ${ACTIVE}`,
        [this.retireAfterSeconds],
      );
      const { rows } = await tx.query<{ kid: string }>(
        `UPDATE identity.signing_keys SET activated_at = clock_timestamp()
          WHERE kid = (SELECT kid FROM identity.signing_keys WHERE ${PENDING} ORDER BY created_at, kid LIMIT 1)
          RETURNING kid`,
      );
      let kid = rows[0]?.kid;
      if (!kid) {
        // No pending key (a database migrated before pre-publication): activate a fresh one.
        await insertKey(tx, fallback, true, this.cipher);
        kid = fallback.kid;
      }
      await insertKey(tx, next, false, this.cipher);
      return { kid };
    });
  }

  /** The JWKS document: every key not yet retired; the signing key first, pending keys last. */
  async jwks(): Promise<{ keys: PublicSigningJwk[] }> {
    const { rows } = await this.db.withScope({ tenantId: null }, (tx) =>
      tx.query<{ kid: string; public_jwk: JWK | string }>(
        `SELECT kid, public_jwk FROM identity.signing_keys
          WHERE retired_at IS NULL OR retired_at > now()
          ORDER BY activated_at IS NULL, activated_at DESC, created_at DESC, kid`,
      ),
    );
    return {
      keys: rows.map((r) => ({ ...parseJwk(r.public_jwk), kid: r.kid, alg: ALG, use: 'sig' })),
    };
  }

  /** Signs `token` with the active key, inside the caller's transaction. */
  async sign(tx: SqlExecutor, token: SignJWT): Promise<{ kid: string; jwt: string }> {
    const { rows } = await tx.query(
      `SELECT kid, private_jwk FROM identity.signing_keys WHERE ${ACTIVE} ORDER BY activated_at DESC, kid LIMIT 1`,
    );
    const row = rows[0] as { kid: string; private_jwk: JWK | SealedJwk | string } | undefined;
    if (!row) throw new Error('no active signing key: call SigningKeyStore.ensureKey() at start-up');
    let key = this.imported.get(row.kid);
    if (!key) {
      const stored: unknown =
        typeof row.private_jwk === 'string' ? JSON.parse(row.private_jwk) : row.private_jwk;
      if (isSealed(stored) && !this.cipher) {
        throw new Error('signing keys are sealed but no signing-key secret is configured');
      }
      // Keys stored before a secret was configured stay usable (plain JWK).
      key = importJWK(isSealed(stored) ? this.cipher!.open(stored as SealedJwk) : (stored as JWK), ALG);
      this.imported.set(row.kid, key);
    }
    const jwt = await token.setProtectedHeader({ alg: ALG, kid: row.kid, typ: 'at+jwt' }).sign(await key);
    return { kid: row.kid, jwt };
  }
}

// node-postgres and PGlite parse jsonb; keep working if a driver hands back text.
const parseJwk = (value: JWK | string): JWK => (typeof value === 'string' ? JSON.parse(value) : value);
