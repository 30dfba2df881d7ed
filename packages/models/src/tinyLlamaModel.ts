import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GgmlType, GgufWriter, readGgufMetadata, toFloat16Bits } from './gguf';
import { readGitBundleFile } from './readGitBundleFile';

/**
 * soma-tiny, the embedded default model: the same recipe as the harness's
 * scripts/infra/llm/make_tiny_model.py, in TypeScript so a fresh clone makes it with Node alone.
 *
 * A real llama architecture (RMSNorm, rotary attention with grouped KV heads, SwiGLU
 * feed-forward) and a real tokenizer (LLaMA 2's 32,000-token SentencePiece vocabulary, copied
 * from llama.cpp's models/ggml-vocab-llama-spm.gguf inside npm node-llama-cpp's source bundle),
 * with deterministic pseudo-random weights from a fixed seed. Nothing is trained: the text it
 * generates is meaningless. The numbers are drawn by another generator than numpy's, so the
 * bytes differ from the Python file's; shape, tokenizer, template and suppression are the same.
 */
export const TINY_MODEL_NAME = 'soma-tiny';
/** Bumped whenever the recipe below changes, so cached files are regenerated. */
const RECIPE_VERSION = 1;

const N_LAYER = 4;
const N_EMBD = 128;
const N_HEAD = 4;
const N_HEAD_KV = 2;
const N_FF = 384;
const CONTEXT_LENGTH = 4096;
const ROPE_THETA = 10000.0;
const RMS_EPS = 1e-5;
const SEED = 20240611;
const INIT_STD = 0.02;
// Random weights would emit <unk>, <s> and lone byte tokens such as <0x9D> (invalid UTF-8) that a
// trained model never produces. Hidden dimension 0 is a constant "bias" channel: set in every
// embedding, hidden from and never written by the layers; the output rows of those tokens read
// it with a large negative weight, so their logits sit far below every other token.
const BIAS_DIM = 0;
const BIAS_VALUE = INIT_STD;
const SUPPRESS_WEIGHT = -1000.0;
/** Byte tokens that stay allowed: tab, newline, carriage return and printable ASCII. */
const ALLOWED_BYTES = new Set([0x09, 0x0a, 0x0d, ...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i)]);
const TOKEN_TYPE_BYTE = 6;

/** LLaMA 2 chat format; the tokenizer adds BOS itself (tokenizer.ggml.add_bos_token). */
export const TINY_MODEL_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}" +
  "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}";

const VOCAB_PATH_IN_BUNDLE = 'models/ggml-vocab-llama-spm.gguf';

/** Where npm put node-llama-cpp's llama.cpp git bundle (the only vocabulary source we have). */
export function llamaCppBundlePath(): string {
  const entry = createRequire(import.meta.url).resolve('node-llama-cpp');
  return join(dirname(dirname(entry)), 'llama', 'gitRelease.bundle');
}

/**
 * Seeded normal numbers: xoshiro128** (seeded through splitmix32) with Box–Muller. Not numpy's
 * PCG64, so the weights differ from make_tiny_model.py's; both are fixed by the same seed.
 */
function normalSource(seed: number) {
  let z = seed >>> 0;
  const splitmix = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
    return (t ^ (t >>> 16)) >>> 0;
  };
  let [s0, s1, s2, s3] = [splitmix(), splitmix(), splitmix(), splitmix()];
  const next = () => {
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  const uniform = () => (next() + 1) / 4294967297; // (0, 1)
  let spare: number | undefined;
  return (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

export interface TinyModelSummary {
  architecture: 'llama';
  n_vocab: number;
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_head_kv: number;
  n_ff: number;
  context_length: number;
  parameters: number;
  bytes: number;
  seed: number;
  suppressed_tokens: number;
}

/** Builds the model file in memory from a vocab-only llama GGUF. */
export function buildTinyLlamaModel(vocabGguf: Buffer): { file: Buffer; summary: TinyModelSummary } {
  const vocab = readGgufMetadata(vocabGguf);
  const arch = vocab.get('general.architecture')?.value;
  if (arch !== 'llama') throw new Error(`expected a llama vocab, got general.architecture=${String(arch)}`);
  const tokens = vocab.get('tokenizer.ggml.tokens')?.value as string[] | undefined;
  const types = vocab.get('tokenizer.ggml.token_type')?.value as number[] | undefined;
  if (!tokens?.length || !types) throw new Error('vocab file has no tokenizer.ggml.tokens/token_type');
  const nVocab = tokens.length;

  const suppressed = new Set<number>();
  for (const key of ['tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.bos_token_id']) {
    const id = vocab.get(key)?.value;
    if (typeof id === 'number') suppressed.add(id);
  }
  tokens.forEach((piece, i) => {
    if (types[i] === TOKEN_TYPE_BYTE && !ALLOWED_BYTES.has(Number.parseInt(piece.slice(3, 5), 16)))
      suppressed.add(i);
  });

  const writer = new GgufWriter();
  writer.addString('general.architecture', 'llama');
  writer.addString('general.name', TINY_MODEL_NAME);
  writer.addString(
    'general.description',
    'SomaAgent test model: llama architecture, LLaMA 2 tokenizer, seeded random weights (untrained)',
  );
  writer.addUint32('general.file_type', 1); // MOSTLY_F16
  writer.addUint32('llama.context_length', CONTEXT_LENGTH);
  writer.addUint32('llama.embedding_length', N_EMBD);
  writer.addUint32('llama.block_count', N_LAYER);
  writer.addUint32('llama.feed_forward_length', N_FF);
  writer.addUint32('llama.attention.head_count', N_HEAD);
  writer.addUint32('llama.attention.head_count_kv', N_HEAD_KV);
  writer.addUint32('llama.rope.dimension_count', N_EMBD / N_HEAD);
  writer.addFloat32('llama.rope.freq_base', ROPE_THETA);
  writer.addFloat32('llama.attention.layer_norm_rms_epsilon', RMS_EPS);
  for (const entry of vocab.values()) {
    if (entry.key === 'tokenizer.chat_template') continue;
    if (entry.key.startsWith('tokenizer.')) writer.addRaw(entry);
  }
  writer.addUint32('llama.vocab_size', nVocab);
  writer.addString('tokenizer.chat_template', TINY_MODEL_CHAT_TEMPLATE);

  const normal = normalSource(SEED);
  let parameters = 0;
  /** A (rows, cols) matrix, row-major: ggml dims [cols, rows], `cols` is the input dimension. */
  const matrix = (
    name: string,
    rows: number,
    cols: number,
    edit?: (row: number, col: number, v: number) => number,
  ) => {
    const data = Buffer.alloc(rows * cols * 2);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const v = INIT_STD * normal();
        data.writeUInt16LE(toFloat16Bits(edit ? edit(r, c, v) : v), 2 * (r * cols + c));
      }
    writer.addTensor({ name, dims: [cols, rows], type: GgmlType.F16, data });
    parameters += rows * cols;
  };
  const norm = (name: string, biasVisible: boolean) => {
    const data = Buffer.alloc(N_EMBD * 4);
    for (let i = 0; i < N_EMBD; i++) data.writeFloatLE(i === BIAS_DIM && !biasVisible ? 0 : 1, i * 4);
    writer.addTensor({ name, dims: [N_EMBD], type: GgmlType.F32, data });
    parameters += N_EMBD;
  };
  // The layers never change the bias channel: the rows writing to it are zero.
  const writesResidual = (row: number, _col: number, v: number) => (row === BIAS_DIM ? 0 : v);
  const headDim = N_EMBD / N_HEAD;

  matrix('token_embd.weight', nVocab, N_EMBD, (_r, c, v) => (c === BIAS_DIM ? BIAS_VALUE : v));
  for (let i = 0; i < N_LAYER; i++) {
    norm(`blk.${i}.attn_norm.weight`, false);
    matrix(`blk.${i}.attn_q.weight`, N_HEAD * headDim, N_EMBD);
    matrix(`blk.${i}.attn_k.weight`, N_HEAD_KV * headDim, N_EMBD);
    matrix(`blk.${i}.attn_v.weight`, N_HEAD_KV * headDim, N_EMBD);
    matrix(`blk.${i}.attn_output.weight`, N_EMBD, N_HEAD * headDim, writesResidual);
    norm(`blk.${i}.ffn_norm.weight`, false);
    matrix(`blk.${i}.ffn_gate.weight`, N_FF, N_EMBD);
    matrix(`blk.${i}.ffn_up.weight`, N_FF, N_EMBD);
    matrix(`blk.${i}.ffn_down.weight`, N_EMBD, N_FF, writesResidual);
  }
  norm('output_norm.weight', true);
  matrix('output.weight', nVocab, N_EMBD, (r, c, v) =>
    c === BIAS_DIM ? (suppressed.has(r) ? SUPPRESS_WEIGHT : 0) : v,
  );

  const file = writer.toBuffer();
  return {
    file,
    summary: {
      architecture: 'llama',
      n_vocab: nVocab,
      n_layer: N_LAYER,
      n_embd: N_EMBD,
      n_head: N_HEAD,
      n_head_kv: N_HEAD_KV,
      n_ff: N_FF,
      context_length: CONTEXT_LENGTH,
      parameters,
      bytes: file.length,
      seed: SEED,
      suppressed_tokens: suppressed.size,
    },
  };
}

/**
 * The path of soma-tiny in `dir`, generated on first use (about 2 s: reading the vocabulary out
 * of node-llama-cpp's bundle, then 4.7 M seeded weights) and reused afterwards. The file name
 * carries a hash of the recipe and the bundle, so a change of either makes a new file; older
 * ones are removed. Concurrent callers each write a temporary file and rename it into place.
 */
export function ensureTinyLlamaModel(dir: string, bundlePath = llamaCppBundlePath()): string {
  const key = createHash('sha256')
    .update(`${RECIPE_VERSION} ${SEED} ${VOCAB_PATH_IN_BUNDLE} `)
    .update(readFileSync(join(dirname(bundlePath), '..', 'package.json')))
    .digest('hex')
    .slice(0, 16);
  const path = join(dir, `${TINY_MODEL_NAME}-${key}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const { file, summary } = buildTinyLlamaModel(readGitBundleFile(bundlePath, VOCAB_PATH_IN_BUNDLE));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, file);
  writeFileSync(path.replace(/\.gguf$/, '.json'), `${JSON.stringify(summary)}\n`);
  renameSync(tmp, path);
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${TINY_MODEL_NAME}-`) && !name.startsWith(`${TINY_MODEL_NAME}-${key}`))
      rmSync(join(dir, name), { force: true });
  }
  return path;
}
