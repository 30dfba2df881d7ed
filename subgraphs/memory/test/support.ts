import { randomUUID } from 'node:crypto';
import { UniversalSentenceEncoderWorkerEmbeddingModel } from '@somaagent/embeddings';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createTestDatabase } from '../../../tests/support/postgres';
import { memoryMigrations } from '../src/index';

export interface Adapter {
  name: string;
  open(): Promise<SqlDatabase>;
}

/** The embedded database and the harness's PostgreSQL server: every memory contract runs on both. */
export const adapters: Adapter[] = [
  { name: 'pglite', open: () => PgliteSqlDatabase.open() },
  { name: 'postgres', open: () => createTestDatabase() },
];

export async function openMigrated(adapter: Adapter): Promise<SqlDatabase> {
  const db = await adapter.open();
  await db.migrate(memoryMigrations);
  return db;
}

/**
 * One instance per test file's process: the worker thread loads the weights once (~1 s) and serves
 * every suite of the file. The adapter the platform uses by default; the in-thread one is covered
 * by packages/embeddings' contract suite.
 */
export const embedder = new UniversalSentenceEncoderWorkerEmbeddingModel();

export function claimsFor(
  tenantId: string,
  subject: string,
  capabilities: string[] = ['memory:read', 'memory:write'],
): VerifiedClaims {
  return {
    subject,
    tenantId,
    roles: [],
    capabilities,
    platformAdmin: false,
    issuer: 'https://tests.somaagent.invalid',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    authMethod: 'password',
  };
}

export const newTenant = () => randomUUID();

export { prng } from '../../../tests/support/prng';
