import { randomUUID } from 'node:crypto';
import { identityMigrations } from '@somaagent/identity';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { sessionsMigrations } from '@somaagent/sessions';

const db = await PgliteSqlDatabase.open();
await db.migrate([...identityMigrations, ...sessionsMigrations]);
const tenant = randomUUID();
const { personaId, sessionId } = await db.asOwner(async (tx) => {
  const p = await tx.query<{ id: string }>(
    `INSERT INTO sessions.personas (tenant_id, name, provider, model, system_prompt, temperature, max_tokens) VALUES ($1, 'p', 'OPENAI_COMPATIBLE', 'm', 's', 0.7, 24) RETURNING id`,
    [tenant],
  );
  const s = await tx.query<{ id: string }>(
    `INSERT INTO sessions.sessions (tenant_id, user_id, persona_id, model) VALUES ($1, 'u', $2, 'm') RETURNING id`,
    [tenant, p.rows[0]!.id],
  );
  return { personaId: p.rows[0]!.id, sessionId: s.rows[0]!.id };
});
const WRITE = `WITH stamp AS (
   SELECT GREATEST(clock_timestamp(),
     (SELECT max(created_at) FROM sessions.messages WHERE session_id = $2::uuid) + interval '1 microsecond') AS at
 ), added AS (
   INSERT INTO sessions.messages (tenant_id, session_id, role, content, status, citations, created_at)
   SELECT $1::uuid, $2::uuid, m.role, m.content, m.status, m.citations, stamp.at + m.later
     FROM stamp, (VALUES ('USER', $3::text, 'COMPLETE', '[]'::jsonb, interval '0'),
                         ('ASSISTANT', '', 'STREAMING', $4::jsonb, interval '1 microsecond'))
          AS m(role, content, status, citations, later)
   RETURNING id, role
 ), touched AS (
   UPDATE sessions.sessions SET updated_at = now() WHERE id = $2::uuid
 ), queued AS (
   INSERT INTO sessions.outbox (tenant_id, topic, type, payload)
   SELECT $1::uuid, $5::text, 'message.created', jsonb_build_object('sessionId', $2::text,
            'messageId', added.id, 'role', 'USER', 'userId', $6::text, 'chars', $7::int)
     FROM added WHERE added.role = 'USER'
 )
 SELECT * FROM added`;
const params = [tenant, sessionId, 'hello', '[]', 'conversation.events', 'u', 5];
const LOCK = `SELECT id, status, last_sequence FROM sessions.sessions WHERE id = $1 FOR UPDATE`;
async function time(name: string, fn: () => Promise<unknown>, n = 500) {
  for (let i = 0; i < 50; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(name.padEnd(40), (((performance.now() - t) / n) * 1000).toFixed(0), 'µs');
}
await time('tx: empty (BEGIN, scope, COMMIT)', () => db.withScope({ tenantId: tenant }, async () => {}));
await time('tx: lock', () => db.withScope({ tenantId: tenant }, (tx) => tx.query(LOCK, [sessionId])));
await time('tx: write CTE (query)', () =>
  db.withScope({ tenantId: tenant }, (tx) => tx.query(WRITE, params)),
);
let prepared = false;
await time('tx: write CTE (PREPARE/EXECUTE)', () =>
  db.withScope({ tenantId: tenant }, async (tx) => {
    if (!prepared) {
      await tx.query(
        `PREPARE w(uuid, uuid, text, jsonb, text, text, int) AS ${WRITE.replace(/\$(\d)::\w+/g, '$$$1')}`,
      );
      prepared = true;
    }
    const lit = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
    return tx.query(`EXECUTE w(${params.map(lit).join(', ')})`);
  }),
);
await time('tx: write CTE (query) again', () =>
  db.withScope({ tenantId: tenant }, (tx) => tx.query(WRITE, params)),
);
