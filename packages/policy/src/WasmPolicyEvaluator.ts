import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import {
  DECISION_PATH,
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
  type PolicySetInfo,
  toDecision,
} from './PolicyEvaluator';
import { COMPILED_DIR, type CompiledManifest, readCompiledManifest } from './policySources';

export interface WasmPolicyEvaluatorOptions {
  /** Folder holding policy.wasm, data.json and manifest.json. @default packages/policy/compiled */
  compiledDir?: string;
  /**
   * Data document to decide with instead of the compiled data.json (e.g. tenants'
   * constitutions under `somaagent.constitutions.tenants`). @default the compiled data.json
   */
  data?: object;
}

const encoder = new TextEncoder();
/** opa-wasm takes an input given as an ArrayBuffer to be JSON text, copied as it is. */
const jsonBytes = (json: string): ArrayBuffer => {
  const bytes = encoder.encode(json);
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
};

/**
 * Embedded-mode adapter: the Rego of policies/, compiled by `opa build -t wasm`
 * (`npm run policy:build`, committed), evaluated in this process by `@open-policy-agent/opa-wasm`.
 * Needs no `opa` binary at run time.
 */
export class WasmPolicyEvaluator implements PolicyEvaluator {
  readonly kind = 'wasm' as const;
  #evaluations = 0;
  #dataRevision = 0;

  private constructor(
    private readonly policy: LoadedPolicy,
    private readonly manifest: CompiledManifest,
  ) {}

  static async load(options: WasmPolicyEvaluatorOptions = {}): Promise<WasmPolicyEvaluator> {
    const dir = options.compiledDir ?? COMPILED_DIR;
    const policy = await loadPolicy(readFileSync(join(dir, 'policy.wasm')));
    // Bundle data is not compiled into the module; it is loaded beside it.
    policy.setData(options.data ?? (JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8')) as object));
    if (!(DECISION_PATH in (policy.entrypoints as Record<string, number>))) {
      throw new PolicyEngineUnavailable(`${dir}/policy.wasm has no entrypoint ${DECISION_PATH}`);
    }
    return new WasmPolicyEvaluator(policy, readCompiledManifest(dir));
  }

  /** Replaces the data document (constitutions) the next decisions read. */
  setData(data: object): void {
    this.policy.setData(data);
    this.#dataRevision++;
  }

  get dataRevision(): number {
    return this.#dataRevision;
  }

  get evaluations(): number {
    return this.#evaluations;
  }

  /**
   * Synchronous core, for callers that can use it (benchmarks, the router's hot path). `json`:
   * the input already serialised, handed to the engine as bytes instead of serialising it again.
   */
  evaluateSync(input: PolicyInput, json?: string): PolicyDecision {
    this.#evaluations++;
    let result: unknown;
    try {
      const document = json === undefined ? input : jsonBytes(json);
      result = (this.policy.evaluate(document, DECISION_PATH) as { result?: unknown }[])[0]?.result;
    } catch (error) {
      throw new PolicyEngineUnavailable(`wasm policy evaluation failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return toDecision(result, input.policy);
  }

  async evaluate(input: PolicyInput): Promise<PolicyDecision> {
    return this.evaluateSync(input);
  }

  async info(): Promise<PolicySetInfo> {
    return {
      engine: this.kind,
      revision: this.manifest.revision,
      modules: this.manifest.sources.map(({ id, sha256 }) => ({ id, sha256 })),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}

/** The embedded default: the committed compiled policy. */
export const createWasmPolicyEvaluator = (options?: WasmPolicyEvaluatorOptions) =>
  WasmPolicyEvaluator.load(options);
