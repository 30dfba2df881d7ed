import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readGgufMetadata, toFloat16Bits } from '../src/gguf';
import { GitBundleError, readGitBundleFile } from '../src/readGitBundleFile';
import { buildTinyLlamaModel, llamaCppBundlePath, TINY_MODEL_CHAT_TEMPLATE } from '../src/tinyLlamaModel';

const blobSha = (data: Buffer) =>
  createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

describe('readGitBundleFile (node-llama-cpp 3.21.1 llama.cpp bundle, no git binary)', () => {
  const bundle = llamaCppBundlePath();

  it('reads a whole blob of HEAD by path, checked against its tree entry', () => {
    const vocab = readGitBundleFile(bundle, 'models/ggml-vocab-llama-spm.gguf');
    expect(vocab.length).toBe(723_869);
    expect(blobSha(vocab)).toBe('658295a5df7412d786103d2a5332ee6e7de9a5df');
  });

  it('resolves a blob stored as a delta against another one', () => {
    // Stored in the pack as a delta of the llama-spm vocabulary (git verify-pack).
    const phi3 = readGitBundleFile(bundle, 'models/ggml-vocab-phi-3.gguf');
    expect(blobSha(phi3)).toBe('745be416a798a1e7a2effaa935bc903edaaf303d');
  });

  it('names what is missing', () => {
    expect(() => readGitBundleFile(bundle, 'models/no-such.gguf')).toThrow(GitBundleError);
    expect(() => readGitBundleFile(bundle, 'models/no-such.gguf')).toThrow(/models\/no-such.gguf/);
  });
});

describe('toFloat16Bits', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest half: infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NaN, 0x7e00],
  ])('%f → %i', (value, bits) => expect(toFloat16Bits(value)).toBe(bits));
});

describe('buildTinyLlamaModel', () => {
  const vocab = readGitBundleFile(llamaCppBundlePath(), 'models/ggml-vocab-llama-spm.gguf');
  const { file, summary } = buildTinyLlamaModel(vocab);

  it('has the shape of make_tiny_model.py’s soma-tiny', () => {
    // The Python generator's summary for the same recipe (scripts/infra/llm).
    expect(summary).toMatchObject({
      n_vocab: 32_000,
      n_layer: 4,
      n_embd: 128,
      parameters: 8_979_584,
      bytes: 18_688_128,
      suppressed_tokens: 160,
    });
    expect(file.length).toBe(summary.bytes);
  });

  it('copies every tokenizer entry byte for byte and adds the chat template', () => {
    const source = readGgufMetadata(vocab);
    const model = readGgufMetadata(file);
    expect(model.size).toBe(25);
    for (const [key, entry] of source)
      if (key.startsWith('tokenizer.')) expect(model.get(key)?.raw.equals(entry.raw), key).toBe(true);
    expect(model.get('tokenizer.chat_template')?.value).toBe(TINY_MODEL_CHAT_TEMPLATE);
    expect(model.get('general.architecture')?.value).toBe('llama');
    expect(model.get('llama.attention.head_count_kv')?.value).toBe(2);
  });

  it('is the same bytes every time (fixed seed)', () => {
    const again = buildTinyLlamaModel(vocab).file;
    expect(createHash('sha256').update(again).digest('hex')).toBe(
      createHash('sha256').update(file).digest('hex'),
    );
  });
});
