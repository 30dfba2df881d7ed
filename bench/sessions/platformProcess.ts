// The platform side of bench/sessions, in its own process so the bench client does not share
// an event loop with the router and subgraphs (as a real client would not).
//
//   SOMA_LLM_BASE_URL=… SOMA_LLM_MODEL=… npx tsx bench/sessions/platformProcess.ts [--trace]
//
// Prints one JSON line {url, wsUrl, platformAdminKey} once listening. Commands on stdin, one a
// line: `marks` prints {marks: [...]} (with --trace) and clears them; `exit` stops.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { InMemoryStreamLog } from '@somaagent/events';
import { createNodeHttpFetch, OpenAICompatibleChatModel } from '@somaagent/models';
import { startPlatform } from '@somaagent/platform';
import type { ChatModel, SqlDatabase, StreamLog } from '@somaagent/ports';
import { PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import OpenAI from 'openai';
import pg from 'pg';
import { installProbes, Marks, traceDatabase, traceModel, traceStreamLog } from './trace';

const { values } = parseArgs({ options: { trace: { type: 'boolean', default: false } } });
const baseURL = process.env.SOMA_LLM_BASE_URL!;
const model = process.env.SOMA_LLM_MODEL!;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';

const marks = new Marks();
if (values.trace) installProbes(marks);
// bench.ts --database server hands over a fresh database on the harness's PostgreSQL server.
const rawDb = process.env.SOMA_BENCH_DATABASE_URL
  ? new PostgresSqlDatabase({
      appPool: new pg.Pool({ connectionString: process.env.SOMA_BENCH_DATABASE_URL }),
      ownerPool: new pg.Pool({ connectionString: process.env.SOMA_BENCH_DATABASE_OWNER_URL, max: 2 }),
    })
  : await PgliteSqlDatabase.open();
let db: SqlDatabase = rawDb;
// As an operator would set SOMA_LLM_MAX_CONCURRENT_STREAMS for this server: the harness's
// llama-server decodes 2 requests at a time (--parallel 2) on 4 HTTP threads; more requests on the
// wire only wait in its HTTP layer, so the platform keeps the queue.
const maxConcurrentStreams = Number(process.env.SOMA_LLM_MAX_CONCURRENT_STREAMS ?? 4);
// Traced: the same fetch as fromUrl's (createNodeHttpFetch), with marks when the request is
// handed to it, written to its socket, and answered (response headers).
const tracedFetch = createNodeHttpFetch({ onRequestWritten: () => marks.mark('model.sent') });
let chat: ChatModel = values.trace
  ? new OpenAICompatibleChatModel({
      client: new OpenAI({
        baseURL,
        apiKey,
        maxRetries: 0,
        fetch: async (url, init) => {
          marks.mark('model.fetch');
          const response = await tracedFetch(url, init);
          marks.mark('model.headers');
          return response;
        },
      }),
      maxConcurrentStreams,
    })
  : OpenAICompatibleChatModel.fromUrl(baseURL, apiKey, { maxConcurrentStreams });
let streams: StreamLog = new InMemoryStreamLog();
if (values.trace) {
  db = traceDatabase(db, marks);
  chat = traceModel(chat, marks);
  streams = traceStreamLog(streams, marks);
}
const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
const platform = await startPlatform({
  db,
  streams,
  issuer: 'http://bench.somaagent',
  routerSecret: randomBytes(32).toString('base64url'),
  platformAdminKey,
  models: { OPENAI_COMPATIBLE: chat },
  prices: { [model]: { promptUsdPerMillion: 0.1, completionUsdPerMillion: 0.4 } },
  limits: {
    maxSubscriptionsPerConnection: 20,
    // One bench user drives up to 1000 sessions at once; the per-user and per-tenant quotas
    // (docs/security.md §3) are not what this bench measures.
    requestsPerMinutePerIp: 10_000_000,
    requestsPerMinutePerSubject: 10_000_000,
    requestsPerMinutePerTenant: 10_000_000,
    maxConnectionsPerUser: 100_000,
    maxSubscriptionsPerUser: 100_000,
    socketOperationsPerSecondPerUser: 1_000_000,
  },
  sessionsLimits: { maxConcurrentGenerationsPerUser: 100_000, maxConcurrentGenerationsPerTenant: 100_000 },
  // bench.ts --subgraph-transport: in-process (the platform's default) or http (signed HTTP and
  // graphql-ws to the subgraphs' loopback servers, as a distributed deployment).
  subgraphTransport: process.env.SOMA_BENCH_SUBGRAPH_TRANSPORT === 'http' ? 'http' : 'in-process',
});
marks.ports = {
  router: Number(new URL(platform.url).port),
  sessions: Number(new URL(platform.subgraphUrls.sessions!).port),
};
process.stdout.write(`${JSON.stringify({ url: platform.url, wsUrl: platform.wsUrl, platformAdminKey })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'marks') {
    process.stdout.write(
      `${JSON.stringify({ marks: marks.all.splice(0), statements: marks.statements.splice(0), gc: marks.gc.splice(0) })}\n`,
    );
  } else if (line === 'exit') {
    break;
  }
}
await platform.close();
await rawDb[Symbol.asyncDispose]();
process.exit(0);
