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

/** Deterministic pseudo-random numbers (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
