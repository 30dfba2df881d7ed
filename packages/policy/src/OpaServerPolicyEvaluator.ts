import { createHash } from 'node:crypto';
import {
  DECISION_PATH,
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
  type PolicySetInfo,
  toDecision,
} from './PolicyEvaluator';
import { type PolicySource, readPolicySources, sourcesRevision } from './policySources';

export interface OpaServerPolicyEvaluatorOptions {
  /** OPA's REST address, e.g. `http://127.0.0.1:8181` (SOMA_OPA_URL). */
  url: string;
  /** A decision slower than this is an unavailable engine (and a denial). @default 2000 */
  timeoutMs?: number;
}

/**
 * Distributed-mode adapter: asks an OPA server (`opa run --server`, loaded with the bundle of
 * policies/ or with {@link publishPoliciesToOpa}) over its REST Data API.
 */
export class OpaServerPolicyEvaluator implements PolicyEvaluator {
  readonly kind = 'opa-server' as const;
  readonly url: string;
  readonly #timeoutMs: number;
  #evaluations = 0;

  constructor(options: OpaServerPolicyEvaluatorOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  get evaluations(): number {
    return this.#evaluations;
  }

  async evaluate(input: PolicyInput): Promise<PolicyDecision> {
    this.#evaluations++;
    const body = await this.#request('POST', `/v1/data/${DECISION_PATH}`, JSON.stringify({ input }));
    return toDecision((body as { result?: unknown }).result, input.policy);
  }

  async info(): Promise<PolicySetInfo> {
    const body = (await this.#request('GET', '/v1/policies')) as { result?: { id: string; raw: string }[] };
    const modules = (body.result ?? [])
      .filter((m) => m.raw.includes('package somaagent'))
      .map((m) => ({ id: m.id, sha256: createHash('sha256').update(m.raw).digest('hex') }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return { engine: this.kind, revision: await this.#revision(), modules };
  }

  /** Published over REST: data.somaagent_meta.revision; served as a bundle: its manifest's revision. */
  async #revision(): Promise<string> {
    const meta = (await this.#request('GET', '/v1/data/somaagent_meta/revision')) as { result?: unknown };
    if (typeof meta.result === 'string') return meta.result;
    const bundles = (await this.#request('GET', '/v1/data/system/bundles')) as {
      result?: Record<string, { manifest?: { revision?: string; roots?: string[] } }>;
    };
    for (const bundle of Object.values(bundles.result ?? {})) {
      if (bundle.manifest?.roots?.includes('somaagent') && bundle.manifest.revision)
        return bundle.manifest.revision;
    }
    return 'unknown';
  }

  async #request(method: string, path: string, body?: string): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new PolicyEngineUnavailable(
        `OPA server at ${this.url} is unreachable: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      throw new PolicyEngineUnavailable(`OPA server answered ${response.status}: ${text.slice(0, 300)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PolicyEngineUnavailable(
        `OPA server answered something other than JSON: ${text.slice(0, 100)}`,
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}

/**
 * Loads the Rego and data of policies/ into a running OPA server through its REST Policy and
 * Data APIs, and records their revision at `data.somaagent_meta.revision`. For servers not
 * started with the policies' bundle (the test harness's shared server). Idempotent, and a
 * server that already holds this revision is left alone (unless `force`): publishing again
 * would replace whole data documents, wiping entries written there since — on the harness's
 * shared server, another test file's tenant constitution in the middle of its test.
 */
export async function publishPoliciesToOpa(
  url: string,
  sources: readonly PolicySource[] = readPolicySources(),
  options: { force?: boolean } = {},
): Promise<string> {
  const base = url.replace(/\/+$/, '');
  const revision = sourcesRevision(sources);
  if (!options.force) {
    const current = await fetch(`${base}/v1/data/somaagent_meta/revision`)
      .then((r) => (r.ok ? (r.json() as Promise<{ result?: unknown }>) : {}))
      .catch(() => ({}) as { result?: unknown });
    if ('result' in current && current.result === revision) return revision;
  }
  const put = async (path: string, body: string, contentType: string) => {
    const response = await fetch(`${base}${path}`, {
      method: 'PUT',
      headers: { 'content-type': contentType },
      body,
    });
    if (!response.ok)
      throw new PolicyEngineUnavailable(`PUT ${path}: ${response.status} ${await response.text()}`);
  };
  // Data first: a module may reference it, and OPA refuses data that collides with a rule.
  for (const s of sources.filter((x) => x.kind === 'data')) {
    const folder = s.id.split('/').slice(0, -1).join('/');
    await put(`/v1/data/${folder}`, s.text, 'application/json');
  }
  for (const s of sources.filter((x) => x.kind === 'rego'))
    await put(`/v1/policies/${s.id}`, s.text, 'text/plain');
  await put('/v1/data/somaagent_meta/revision', JSON.stringify(revision), 'application/json');
  return revision;
}
