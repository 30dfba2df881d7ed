import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  REPO_ROOT,
  spawnDetached,
  stopPid,
  tail,
  waitFor,
} from '../engine';
import {
  OIDC_AUDIENCE,
  OIDC_CLIENT_ID,
  OIDC_DEFAULT_TENANT,
  OIDC_RESOURCE,
  OIDC_SCOPES,
  type OidcServerConfig,
} from '../oidc/config';

const SERVER = join(REPO_ROOT, 'scripts', 'infra', 'oidc', 'server.ts');
const require = createRequire(import.meta.url);

/** Client secrets are made once per `.cache/infra/oidc/` and kept across restarts. */
function serverConfig(ctx: EngineContext): OidcServerConfig {
  const path = join(ctx.dir, 'clients.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as OidcServerConfig;
  const config: OidcServerConfig = {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: randomBytes(24).toString('base64url'),
        scope: OIDC_SCOPES.join(' '),
        soma_tenant: OIDC_DEFAULT_TENANT,
      },
    ],
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return config;
}

async function discovery(issuer: string): Promise<boolean> {
  try {
    const response = await fetch(`${issuer}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return false;
    return ((await response.json()) as { issuer?: string }).issuer === issuer;
  } catch {
    return false;
  }
}

/** npm `oidc-provider` (v9) in its own Node process: discovery, JWKS, client_credentials, JWT access tokens. */
export const oidcEngine: Engine = {
  name: 'oidc',
  description: 'OpenID Provider (npm oidc-provider v9) in a child Node process, 127.0.0.1',

  async install() {
    for (const dependency of ['oidc-provider', 'tsx', 'jose']) {
      try {
        require.resolve(dependency);
      } catch {
        throw new InfraError(
          'oidc',
          `npm package "${dependency}" is not installed; run npm ci at ${REPO_ROOT}`,
        );
      }
    }
  },

  async start(ctx) {
    serverConfig(ctx);
    const port = await choosePort('oidc', process.env.SOMA_OIDC_PORT, ctx.previousPort);
    const issuer = `http://127.0.0.1:${port}`;
    ctx.progress(`starting OpenID Provider on ${issuer}`);
    // One process (no tsx CLI wrapper), so the recorded PID is the server itself.
    const tsx = pathToFileURL(require.resolve('tsx')).href;
    const child = spawnDetached(process.execPath, ['--import', tsx, SERVER], ctx.logPath, {
      ...process.env,
      SOMA_OIDC_PORT: String(port),
      SOMA_OIDC_DIR: ctx.dir,
    });
    const pid = child.pid;
    if (!pid) throw new InfraError('oidc', 'could not spawn node', ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await discovery(issuer)), 30_000);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, SERVER, 'SIGTERM');
      throw new InfraError('oidc', `provider did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return { pid, port, startedAt: new Date().toISOString(), details: { issuer } };
  },

  async healthy(state) {
    return pidAlive(state.pid) && (await discovery(`http://127.0.0.1:${state.port}`));
  },

  env(state, ctx) {
    const client = serverConfig(ctx).clients[0]!;
    return {
      SOMA_TEST_OIDC_ISSUER: `http://127.0.0.1:${state.port}`,
      SOMA_TEST_OIDC_CLIENT_ID: client.client_id,
      SOMA_TEST_OIDC_CLIENT_SECRET: client.client_secret,
      SOMA_TEST_OIDC_RESOURCE: OIDC_RESOURCE,
      SOMA_TEST_OIDC_AUDIENCE: OIDC_AUDIENCE,
      SOMA_TEST_OIDC_TENANT: client.soma_tenant,
    };
  },

  async stop(state, ctx) {
    await stopPid(state.pid, SERVER, 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('oidc', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
