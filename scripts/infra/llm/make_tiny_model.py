"""Writes soma-tiny: a small GGUF language model for the `llm` test engine.

A real llama architecture (RMSNorm, rotary attention with grouped KV heads, SwiGLU feed-forward)
and a real tokenizer (LLaMA 2's 32,000-token SentencePiece vocabulary, copied from the vocab-only
GGUF that llama.cpp ships in models/), with deterministic pseudo-random weights from a fixed seed.
Nothing is trained: the text it generates is meaningless, so tests assert mechanics only.

Usage: python make_tiny_model.py --vocab ggml-vocab-llama-spm.gguf --out soma-tiny.gguf
Needs gguf-py (from the same llama.cpp source tree that builds llama-server) and numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import gguf
import numpy as np

# Small enough that 2 CPU cores generate hundreds of tokens per second; big enough to exercise
# every part of the llama graph (several layers, grouped-query attention, a real FFN width).
N_LAYER = 4
N_EMBD = 128
N_HEAD = 4
N_HEAD_KV = 2  # grouped-query attention, as in current llama models
N_FF = 384
CONTEXT_LENGTH = 4096  # LLaMA 2's, the tokenizer's model
ROPE_THETA = 10000.0
RMS_EPS = 1e-5
SEED = 20240611  # fixed: the same script always writes the same bytes
INIT_STD = 0.02
# Random weights would happily emit <unk>, <s> and lone byte-fallback tokens such as <0x9D>:
# invalid UTF-8 that llama-server's output parser rejects (HTTP 500), which a trained model never
# produces on its own. Hidden dimension 0 is a constant "bias" channel (set in every embedding,
# hidden from and never written by the layers), and the output rows of those tokens read it with
# a large negative weight, so their logits sit ~-100s below every other token: never sampled.
BIAS_DIM = 0
BIAS_VALUE = INIT_STD
SUPPRESS_WEIGHT = -1000.0
# Byte tokens that stay allowed: tab, newline, carriage return (the vocabulary has no other way
# to write them) and printable ASCII.
ALLOWED_BYTES = {0x09, 0x0A, 0x0D, *range(0x20, 0x7F)}

# LLaMA 2 chat format, in the Jinja dialect llama-server evaluates (`--jinja`, its default).
# The vocabulary's tokenizer adds BOS itself (tokenizer.ggml.add_bos_token), so the template
# does not.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)


def copy_tokenizer(reader: gguf.GGUFReader, writer: gguf.GGUFWriter) -> int:
    """Copies every tokenizer.* key of the vocab file with its exact GGUF types; returns n_vocab."""
    n_vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value = field.contents()
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, vtype, sub_type)
        if key == "tokenizer.ggml.tokens":
            n_vocab = len(value)
    if n_vocab == 0:
        raise SystemExit("vocab file has no tokenizer.ggml.tokens")
    return n_vocab


def suppressed_tokens(reader: gguf.GGUFReader) -> list[int]:
    """<unk>, <s> and the byte-fallback tokens outside ALLOWED_BYTES."""
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    ids = [
        int(reader.fields[key].contents())
        for key in ("tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id")
        if key in reader.fields
    ]
    for i, (piece, kind) in enumerate(zip(tokens, types)):
        if kind == gguf.TokenType.BYTE and int(piece[3:5], 16) not in ALLOWED_BYTES:
            ids.append(i)
    return sorted(set(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", required=True, help="vocab-only GGUF (llama.cpp models/ggml-vocab-llama-spm.gguf)")
    parser.add_argument("--out", required=True, help="where to write the model")
    args = parser.parse_args()

    reader = gguf.GGUFReader(args.vocab)
    arch = reader.fields["general.architecture"].contents()
    if arch != "llama":
        raise SystemExit(f"expected a llama vocab, got general.architecture={arch}")

    tmp = f"{args.out}.{os.getpid()}.tmp"
    writer = gguf.GGUFWriter(tmp, "llama")
    writer.add_name("soma-tiny")
    writer.add_description("SomaAgent test model: llama architecture, LLaMA 2 tokenizer, seeded random weights (untrained)")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(ROPE_THETA)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    n_vocab = copy_tokenizer(reader, writer)
    writer.add_vocab_size(n_vocab)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(SEED)
    head_dim = N_EMBD // N_HEAD
    names = gguf.TENSOR_NAMES
    T = gguf.MODEL_TENSOR
    n_params = 0

    suppressed = suppressed_tokens(reader)

    def random(rows: int, cols: int) -> np.ndarray:
        # numpy (rows, cols) is ggml [cols, rows]: `cols` is the input dimension.
        return rng.normal(0.0, INIT_STD, size=(rows, cols))

    def add(name: str, array: np.ndarray) -> None:
        nonlocal n_params
        writer.add_tensor(name, array.astype(np.float16 if array.ndim == 2 else np.float32))
        n_params += array.size

    def norm(bias_visible: bool) -> np.ndarray:
        weight = np.ones(N_EMBD)
        weight[BIAS_DIM] = 1.0 if bias_visible else 0.0
        return weight

    def writes_residual(array: np.ndarray) -> np.ndarray:
        array[BIAS_DIM, :] = 0.0  # the layers never change the bias channel
        return array

    embeddings = random(n_vocab, N_EMBD)
    embeddings[:, BIAS_DIM] = BIAS_VALUE
    add(names[T.TOKEN_EMBD] + ".weight", embeddings)
    for i in range(N_LAYER):
        add(names[T.ATTN_NORM].format(bid=i) + ".weight", norm(bias_visible=False))
        add(names[T.ATTN_Q].format(bid=i) + ".weight", random(N_HEAD * head_dim, N_EMBD))
        add(names[T.ATTN_K].format(bid=i) + ".weight", random(N_HEAD_KV * head_dim, N_EMBD))
        add(names[T.ATTN_V].format(bid=i) + ".weight", random(N_HEAD_KV * head_dim, N_EMBD))
        add(names[T.ATTN_OUT].format(bid=i) + ".weight", writes_residual(random(N_EMBD, N_HEAD * head_dim)))
        add(names[T.FFN_NORM].format(bid=i) + ".weight", norm(bias_visible=False))
        add(names[T.FFN_GATE].format(bid=i) + ".weight", random(N_FF, N_EMBD))
        add(names[T.FFN_UP].format(bid=i) + ".weight", random(N_FF, N_EMBD))
        add(names[T.FFN_DOWN].format(bid=i) + ".weight", writes_residual(random(N_EMBD, N_FF)))
    add(names[T.OUTPUT_NORM] + ".weight", norm(bias_visible=True))
    output = random(n_vocab, N_EMBD)
    output[:, BIAS_DIM] = 0.0
    output[suppressed, BIAS_DIM] = SUPPRESS_WEIGHT
    add(names[T.OUTPUT] + ".weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, args.out)

    json.dump(
        {
            "architecture": "llama",
            "tokenizer": str(reader.fields["general.name"].contents()),
            "n_vocab": n_vocab,
            "n_layer": N_LAYER,
            "n_embd": N_EMBD,
            "n_head": N_HEAD,
            "n_head_kv": N_HEAD_KV,
            "n_ff": N_FF,
            "context_length": CONTEXT_LENGTH,
            "parameters": n_params,
            "bytes": os.path.getsize(args.out),
            "seed": SEED,
            "suppressed_tokens": len(suppressed),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
