// Runs the identity subgraph as its own process behind the router:
//   SOMA_DATABASE_URL=... SOMA_DATABASE_OWNER_URL=... SOMA_ROUTER_SECRET=... SOMA_ISSUER=... tsx subgraphs/identity/src/main.ts
import { InProcessEventBus } from '@somaagent/events';
import { PostgresSqlDatabase } from '@somaagent/postgres';
import { serveSubgraph } from '@somaagent/subgraph-server';
import pg from 'pg';
import { z } from 'zod';
import { createIdentitySubgraph, identityMigrations } from './index';

const Env = z.object({
  /** Logs in as `soma_app` (no ownership, no BYPASSRLS). */
  SOMA_DATABASE_URL: z.string().url(),
  /** Logs in as the schema owner; used for migrations only. */
  SOMA_DATABASE_OWNER_URL: z.string().url(),
  /** Shared with the router, which signs every request with it. */
  SOMA_ROUTER_SECRET: z.string().min(32, 'use at least 32 characters'),
  SOMA_ISSUER: z.string().min(1),
  SOMA_AUDIENCE: z.string().min(1).default('somaagent'),
  SOMA_PLATFORM_ADMIN_KEY: z.string().min(32, 'use at least 32 characters').optional(),
  SOMA_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
  PORT: z.coerce.number().int().min(0).max(65535).default(4001),
  // Subgraphs are internal: loopback unless the deployment puts them on a private network.
  HOST: z.string().default('127.0.0.1'),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  console.error('identity: invalid configuration');
  for (const issue of parsed.error.issues) console.error(`  ${issue.path.join('.')}: ${issue.message}`);
  process.exit(2);
}
const env = parsed.data;

const db = new PostgresSqlDatabase({
  appPool: new pg.Pool({ connectionString: env.SOMA_DATABASE_URL }),
  ownerPool: new pg.Pool({ connectionString: env.SOMA_DATABASE_OWNER_URL, max: 1 }),
});
await db.migrate(identityMigrations);
// In-process: subscribers see the events of this process. A multi-process deployment needs the
// Kafka adapter of the EventBus port (not built yet).
const events = new InProcessEventBus();
const identity = await createIdentitySubgraph({
  db,
  events,
  issuer: env.SOMA_ISSUER,
  audience: env.SOMA_AUDIENCE,
  accessTokenTtlSeconds: env.SOMA_ACCESS_TOKEN_TTL_SECONDS,
  ...(env.SOMA_PLATFORM_ADMIN_KEY ? { platformAdminKey: env.SOMA_PLATFORM_ADMIN_KEY } : {}),
});
const server = await serveSubgraph({
  name: identity.name,
  schema: identity.schema,
  routerSecret: env.SOMA_ROUTER_SECRET,
  createContext: identity.createContext,
  getRoutes: identity.getRoutes,
  host: env.HOST,
  port: env.PORT,
});
console.log(`identity subgraph listening on ${server.url}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await events[Symbol.asyncDispose]();
  await db[Symbol.asyncDispose]();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
