import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  REPO_ROOT,
  run,
  sleep,
  spawnDetached,
  stopPid,
  TOOLS_DIR,
  tail,
  waitFor,
} from '../engine';

/**
 * The llama.cpp source comes from this npm package (it ships llama.cpp as a git bundle,
 * `llama/gitRelease.bundle`). 3.21.1: the release tested here; newer ones were not checked
 * against this build recipe.
 */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';
/** 2.2.6: the last numpy that installs on Python 3.10 (gguf-py's floor), so any python3 >= 3.10 works. */
const NUMPY_VERSION = '2.2.6';
/** gguf-py imports yaml at import time; 6.0.3 is the current release, with wheels for 3.10–3.14. */
const PYYAML_VERSION = '6.0.3';

/** The name clients send as `model`; llama-server answers to it (`--alias`). */
export const LLM_MODEL_ALIAS = 'soma-tiny';
/**
 * Total KV-cache context, shared by the slots: the model's own context length. At this model
 * size it costs 8 MB, leaves room for RAG-sized prompts, and makes a full-length generation
 * last over a second, long enough for tests to see a cancelled one stop early.
 */
const CONTEXT_SIZE = 4096;
/** Concurrent requests served (slots); two lets a test stream while another request runs. */
const PARALLEL = 2;
/** At most this many compile jobs: the machines are 2 cores shared by several engineers. */
const BUILD_JOBS = 2;

const LLM_TOOLS = join(TOOLS_DIR, 'llm');
const SOURCE_DIR = join(LLM_TOOLS, `llama.cpp-node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`);
const VENV_DIR = join(LLM_TOOLS, `venv-numpy-${NUMPY_VERSION}-pyyaml-${PYYAML_VERSION}`);
const GENERATOR = join(REPO_ROOT, 'scripts', 'infra', 'llm', 'make_tiny_model.py');
/** The vocabulary the generator copies: LLaMA 2's SentencePiece tokenizer (32,000 tokens). */
const VOCAB = 'ggml-vocab-llama-spm.gguf';
const COMPLETE = '.soma-complete';

/**
 * The binary is compiled with -march=native (AVX2/AVX-512 kernels where the CPU has them), so
 * its cache key includes the CPU's feature flags: a TOOLS_DIR reused on another CPU rebuilds
 * instead of dying with SIGILL.
 */
function cpuKey(): string {
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // Not Linux: the architecture alone.
  }
  return createHash('sha256').update(`${process.arch} ${flags}`).digest('hex').slice(0, 10);
}

const serverDir = () => join(LLM_TOOLS, `llama-server-node-llama-cpp-${NODE_LLAMA_CPP_VERSION}-${cpuKey()}`);
const serverBinary = () => join(serverDir(), 'llama-server');
const installLog = (ctx: EngineContext) => join(ctx.dir, 'install.log');
const apiKeyPath = (ctx: EngineContext) => join(ctx.dir, 'api-key');

/** The model file: keyed by the generator, the vocabulary and the gguf-py/numpy it runs with. */
function modelPath(): string {
  const hash = createHash('sha256')
    .update(readFileSync(GENERATOR))
    .update(`${NODE_LLAMA_CPP_VERSION} ${NUMPY_VERSION} ${VOCAB}`)
    .digest('hex')
    .slice(0, 16);
  return join(LLM_TOOLS, 'models', `${LLM_MODEL_ALIAS}-${hash}.gguf`);
}

async function which(command: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  );
}

async function requireCommands(commands: Record<string, string>) {
  for (const [command, hint] of Object.entries(commands)) {
    if (!(await which(command))) {
      throw new InfraError('llm', `"${command}" is not installed; it is needed ${hint}`);
    }
  }
}

/**
 * One installer at a time per TOOLS_DIR (it is shared by every clone of the user, and two
 * concurrent cmake builds in one folder corrupt each other); a dead holder's lock is taken over.
 */
async function withToolsLock<T>(ctx: EngineContext, work: () => Promise<T>): Promise<T> {
  mkdirSync(LLM_TOOLS, { recursive: true });
  const lock = join(LLM_TOOLS, 'install.lock');
  let waited = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // Between the holder's mkdir and its pid file.
      }
      if (owner && !pidAlive(owner)) rmSync(lock, { recursive: true, force: true });
      else {
        if (!waited) ctx.progress(`waiting for PID ${owner} to finish installing into ${LLM_TOOLS}`);
        waited = true;
        await sleep(1000);
      }
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The llama.cpp git bundle inside node-llama-cpp: from node_modules if that exact version is there, else `npm pack`. */
async function llamaCppSource(ctx: EngineContext) {
  if (existsSync(join(SOURCE_DIR, COMPLETE))) return;
  const log = installLog(ctx);
  const work = join(LLM_TOOLS, `tmp-source-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    let bundle = join(REPO_ROOT, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
    const installed = join(REPO_ROOT, 'node_modules', 'node-llama-cpp', 'package.json');
    const usable =
      existsSync(bundle) &&
      (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version === NODE_LLAMA_CPP_VERSION;
    if (!usable) {
      ctx.progress(`npm pack node-llama-cpp@${NODE_LLAMA_CPP_VERSION} (llama.cpp source, ~35 MB)`);
      await run('npm', ['pack', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, '--silent'], {
        cwd: work,
        logPath: log,
      });
      const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new InfraError('llm', `npm pack produced no tarball in ${work}`, log);
      await run('tar', ['-xzf', tgz, 'package/llama/gitRelease.bundle'], { cwd: work, logPath: log });
      bundle = join(work, 'package', 'llama', 'gitRelease.bundle');
    }
    ctx.progress('unpacking the llama.cpp git bundle');
    const clone = join(work, 'llama.cpp');
    await run('git', ['clone', '--quiet', bundle, clone], { logPath: log });
    writeFileSync(join(clone, COMPLETE), `${new Date().toISOString()}\n`);
    rmSync(SOURCE_DIR, { recursive: true, force: true });
    renameSync(clone, SOURCE_DIR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Only the `llama-server` target, statically linked, no network features, no web UI download. */
async function buildServer(ctx: EngineContext) {
  const binary = serverBinary();
  if (existsSync(join(serverDir(), COMPLETE)) && existsSync(binary)) return;
  const log = installLog(ctx);
  // Kept across an interrupted build, so the next `up` resumes where it stopped.
  const build = join(LLM_TOOLS, `build-${NODE_LLAMA_CPP_VERSION}-${cpuKey()}`);
  ctx.progress(`cmake configure (log: ${log})`);
  await run(
    'cmake',
    [
      '-S',
      SOURCE_DIR,
      '-B',
      build,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DBUILD_SHARED_LIBS=OFF',
      '-DGGML_NATIVE=ON',
      // No HTTPS client (model downloads) and no web UI: the UI would otherwise be fetched
      // from a model hub at build time, which these machines cannot reach.
      '-DLLAMA_CURL=OFF',
      '-DLLAMA_OPENSSL=OFF',
      '-DLLAMA_BUILD_UI=OFF',
      '-DLLAMA_USE_PREBUILT_UI=OFF',
      '-DLLAMA_BUILD_TESTS=OFF',
      '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DGGML_CCACHE=OFF',
    ],
    { logPath: log },
  );
  ctx.progress(
    `building llama-server with -j${BUILD_JOBS} (about 9 minutes on 2 busy cores; once per machine)`,
  );
  const started = Date.now();
  const ticker = setInterval(() => {
    const percent = [...readFileSync(log, 'utf8').matchAll(/^\[\s*(\d+)%\]/gm)].at(-1)?.[1];
    ctx.progress(
      `building llama-server: ${percent ?? '?'}% after ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }, 30_000);
  try {
    await run('cmake', ['--build', build, '--target', 'llama-server', '-j', String(BUILD_JOBS)], {
      logPath: log,
    });
  } finally {
    clearInterval(ticker);
  }
  ctx.progress(`llama-server built in ${Math.round((Date.now() - started) / 1000)} s`);
  const staging = `${serverDir()}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'llama-server'), readFileSync(join(build, 'bin', 'llama-server')), {
    mode: 0o755,
  });
  writeFileSync(join(staging, COMPLETE), `${new Date().toISOString()}\n`);
  rmSync(serverDir(), { recursive: true, force: true });
  renameSync(staging, serverDir());
  rmSync(build, { recursive: true, force: true });
}

/** A venv with numpy and pyyaml for gguf-py (taken from the llama.cpp source, so it matches the server). */
async function pythonEnv(ctx: EngineContext): Promise<string> {
  const python = join(VENV_DIR, 'bin', 'python');
  const works = await run(python, ['-c', 'import numpy, yaml']).then(
    () => true,
    () => false,
  );
  if (works) return python;
  const log = installLog(ctx);
  rmSync(VENV_DIR, { recursive: true, force: true });
  ctx.progress(`python3 -m venv ${VENV_DIR}`);
  await run('python3', ['-c', 'import sys; assert sys.version_info >= (3, 10), sys.version']).catch(() => {
    throw new InfraError('llm', 'python3 >= 3.10 is needed to generate the test model (gguf-py)');
  });
  await run('python3', ['-m', 'venv', VENV_DIR], { logPath: log }).catch(() => {
    throw new InfraError(
      'llm',
      'python3 cannot create a venv; install the Debian package python3-venv (apt-get install -y python3-venv)',
      log,
    );
  });
  ctx.progress(`pip install numpy==${NUMPY_VERSION} pyyaml==${PYYAML_VERSION}`);
  await run(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `numpy==${NUMPY_VERSION}`,
      `pyyaml==${PYYAML_VERSION}`,
    ],
    { logPath: log },
  );
  return python;
}

async function generateModel(ctx: EngineContext) {
  const model = modelPath();
  if (existsSync(model)) return;
  const python = await pythonEnv(ctx);
  mkdirSync(join(LLM_TOOLS, 'models'), { recursive: true });
  ctx.progress(`generating ${model}`);
  const summary = await run(
    python,
    [GENERATOR, '--vocab', join(SOURCE_DIR, 'models', VOCAB), '--out', model],
    { env: { ...process.env, PYTHONPATH: join(SOURCE_DIR, 'gguf-py') } },
  );
  writeFileSync(model.replace(/\.gguf$/, '.json'), summary);
  // Models of earlier generator versions are dead weight (18 MB each); a clone still on one
  // regenerates it in about a second.
  for (const file of readdirSync(join(LLM_TOOLS, 'models'))) {
    const path = join(LLM_TOOLS, 'models', file);
    if (file.startsWith(`${LLM_MODEL_ALIAS}-`) && !model.startsWith(path.replace(/\.(gguf|json)$/, ''))) {
      rmSync(path, { force: true });
    }
  }
}

function apiKey(ctx: EngineContext): string {
  const path = apiKeyPath(ctx);
  if (!existsSync(path)) writeFileSync(path, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

/** The llama-server command line (the port aside). */
function serverArgs(ctx: EngineContext, port: number): string[] {
  return [
    '--model',
    modelPath(),
    '--alias',
    LLM_MODEL_ALIAS,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--ctx-size',
    String(CONTEXT_SIZE),
    '--parallel',
    String(PARALLEL),
    // One KV pool shared by the slots: a single long request may use the whole context.
    '--kv-unified',
    // One decoding thread: soma-tiny (4 layers, d 128) gains nothing from a second one, and on
    // our 2-core machines that thread competed with the platform and the tests for the other
    // core (bench/sessions, direct time to first token: p50 6.05 → 3.43 ms, p95 22 → 6 ms).
    '--threads',
    '1',
    // A file, not --api-key: the key stays out of `ps` output. Also the stop() marker.
    '--api-key-file',
    apiKeyPath(ctx),
    // Prometheus counters (tokens, requests, busy slots), as an operator would scrape them.
    '--metrics',
    '--no-webui',
    // Also serve /v1/embeddings (mean-pooled), so the memory domain's OpenAI-compatible
    // embeddings adapter is tested against a real engine too; chat completions keep working.
    '--embeddings',
    '--pooling',
    'mean',
  ];
}

/** Identifies binary + model + flags, so a server started by an older checkout is replaced. */
function configFingerprint(ctx: EngineContext): string {
  return createHash('sha256')
    .update(JSON.stringify([serverBinary(), ...serverArgs(ctx, 0)]))
    .digest('hex')
    .slice(0, 16);
}

/** llama-server answers `/health` (public) and lists our alias on `/v1/models` (API key). */
async function answers(port: number, key: string): Promise<boolean> {
  try {
    const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    if (!health.ok) return false;
    const models = await fetch(`http://127.0.0.1:${port}/v1/models`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(2000),
    });
    if (!models.ok) return false;
    const body = (await models.json()) as { data?: { id?: string; aliases?: string[] }[] };
    return (body.data ?? []).some((m) => m.id === LLM_MODEL_ALIAS || m.aliases?.includes(LLM_MODEL_ALIAS));
  } catch {
    return false;
  }
}

/**
 * llama.cpp's `llama-server` (OpenAI-compatible HTTP API), built from the source bundled in npm
 * node-llama-cpp, serving `soma-tiny`: a llama-architecture GGUF with a real tokenizer and
 * seeded random weights generated by scripts/infra/llm/make_tiny_model.py. Untrained: its text
 * is meaningless; it exists to exercise the real engine's mechanics.
 */
export const llmEngine: Engine = {
  name: 'llm',
  description: `llama.cpp llama-server (built from npm node-llama-cpp ${NODE_LLAMA_CPP_VERSION}'s source) serving ${LLM_MODEL_ALIAS}, 127.0.0.1`,

  async install(ctx) {
    if (existsSync(join(serverDir(), COMPLETE)) && existsSync(modelPath())) return;
    await requireCommands({
      npm: 'to fetch node-llama-cpp (the llama.cpp source)',
      tar: 'to unpack node-llama-cpp',
      git: 'to unpack the llama.cpp git bundle',
      cmake: 'to build llama-server (Debian package cmake)',
      'c++': 'to build llama-server (Debian package g++)',
      make: 'to build llama-server (Debian package make)',
      python3: 'to generate the test model with gguf-py',
    });
    await withToolsLock(ctx, async () => {
      try {
        await llamaCppSource(ctx);
        await buildServer(ctx);
        await generateModel(ctx);
      } catch (error) {
        if (error instanceof InfraError) throw error;
        throw new InfraError('llm', `install failed: ${(error as Error).message}`, installLog(ctx));
      }
    });
  },

  async start(ctx) {
    const key = apiKey(ctx);
    const port = await choosePort('llm', process.env.SOMA_LLM_PORT, ctx.previousPort);
    ctx.progress(`starting llama-server on 127.0.0.1:${port}`);
    const child = spawnDetached(serverBinary(), serverArgs(ctx, port), ctx.logPath);
    const pid = child.pid;
    if (!pid) throw new InfraError('llm', 'could not spawn llama-server', ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await answers(port, key)), 60_000, 200);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, apiKeyPath(ctx), 'SIGTERM');
      throw new InfraError('llm', `llama-server did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return {
      pid,
      port,
      startedAt: new Date().toISOString(),
      details: { model: modelPath(), binary: serverBinary(), config: configFingerprint(ctx) },
    };
  },

  async healthy(state, ctx) {
    if (!pidAlive(state.pid) || !existsSync(apiKeyPath(ctx))) return false;
    // Started with another binary, model or flags (an older checkout): `up` replaces it.
    if (state.details.config !== configFingerprint(ctx)) return false;
    return answers(state.port, apiKey(ctx));
  },

  env(state, ctx) {
    return {
      SOMA_LLM_BASE_URL: `http://127.0.0.1:${state.port}/v1`,
      SOMA_LLM_MODEL: LLM_MODEL_ALIAS,
      SOMA_LLM_API_KEY: apiKey(ctx),
      // The served model's file: its tokenizer counts streams the server leaves uncounted.
      SOMA_LLM_TOKENIZER_GGUF: modelPath(),
    };
  },

  async stop(state, ctx) {
    await stopPid(state.pid, apiKeyPath(ctx), 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('llm', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
