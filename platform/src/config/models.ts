import { basename, join, resolve } from 'node:path';
import {
  type EmbeddingModel,
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '@somaagent/embeddings';
import {
  ensureTinyLlamaModel,
  GgufTokenCounter,
  LocalLlamaChatModel,
  OpenAICompatibleChatModel,
  TINY_MODEL_NAME,
} from '@somaagent/models';
import type { ChatModel } from '@somaagent/ports';
import type { CapsuleModel } from '../createCapsuleRunActivities';

// The models each variable selects, shared by `npm start` and the standalone processes.

export interface EmbeddingSettings {
  SOMA_EMBEDDINGS_BASE_URL?: string | undefined;
  SOMA_EMBEDDINGS_MODEL?: string | undefined;
  SOMA_EMBEDDINGS_DIMENSION?: number | undefined;
  SOMA_EMBEDDINGS_API_KEY?: string | undefined;
}

/**
 * Memory's embeddings: a remote OpenAI-compatible server when configured, else the embedded model
 * in a worker thread. Each collection records the model and dimension of its first write, so
 * every process that embeds for one database must select the same model.
 */
export function openEmbedder(env: EmbeddingSettings): EmbeddingModel & AsyncDisposable {
  return env.SOMA_EMBEDDINGS_BASE_URL
    ? new OpenAICompatibleEmbeddingModel({
        baseUrl: env.SOMA_EMBEDDINGS_BASE_URL,
        model: env.SOMA_EMBEDDINGS_MODEL!,
        dimension: env.SOMA_EMBEDDINGS_DIMENSION!,
        ...(env.SOMA_EMBEDDINGS_API_KEY ? { apiKey: env.SOMA_EMBEDDINGS_API_KEY } : {}),
      })
    : new UniversalSentenceEncoderWorkerEmbeddingModel();
}

export interface ChatModelSettings {
  SOMA_LLM_BASE_URL?: string | undefined;
  SOMA_LLM_API_KEY: string;
  SOMA_LLM_MODEL?: string | undefined;
  SOMA_LLM_MAX_CONCURRENT_STREAMS: number;
  SOMA_LLM_TOKENIZER_GGUF?: string | undefined;
  SOMA_LOCAL_MODEL_PATH?: string | undefined;
  SOMA_LOCAL_MODEL_NAME?: string | undefined;
  SOMA_LOCAL_THREADS: number;
}

export interface ChatModels extends AsyncDisposable {
  /** The LOCAL provider: llama.cpp in this process, loaded on the first answer. */
  local: LocalLlamaChatModel;
  /** The OPENAI_COMPATIBLE provider, when SOMA_LLM_BASE_URL is set. */
  remote: ChatModel | undefined;
  localModelName: string;
  localModelPath: string | undefined;
  /** Personas' providers, as the sessions module takes them. */
  models: { LOCAL: ChatModel; OPENAI_COMPATIBLE?: ChatModel };
  /** Capsule model-call steps use the same engine personas default to. */
  capsuleModel: CapsuleModel;
}

/**
 * The personas' model providers: LOCAL (the GGUF at SOMA_LOCAL_MODEL_PATH, or soma-tiny generated
 * into `<dataDir>/models` on first use) and, with SOMA_LLM_BASE_URL, OPENAI_COMPATIBLE.
 */
export function openChatModels(env: ChatModelSettings, dataDir: string): ChatModels {
  const localModelPath = env.SOMA_LOCAL_MODEL_PATH ? resolve(env.SOMA_LOCAL_MODEL_PATH) : undefined;
  const localModelName =
    env.SOMA_LOCAL_MODEL_NAME ??
    (localModelPath ? basename(localModelPath).replace(/\.gguf$/i, '') : TINY_MODEL_NAME);
  const tokenCounter = env.SOMA_LLM_TOKENIZER_GGUF
    ? new GgufTokenCounter(resolve(env.SOMA_LLM_TOKENIZER_GGUF))
    : undefined;
  const remote = env.SOMA_LLM_BASE_URL
    ? OpenAICompatibleChatModel.fromUrl(env.SOMA_LLM_BASE_URL, env.SOMA_LLM_API_KEY, {
        maxConcurrentStreams: env.SOMA_LLM_MAX_CONCURRENT_STREAMS,
        ...(tokenCounter ? { tokenCounter } : {}),
      })
    : undefined;
  const local = new LocalLlamaChatModel({
    modelName: localModelName,
    modelPath: localModelPath ?? (() => ensureTinyLlamaModel(join(dataDir, 'models'))),
    threads: env.SOMA_LOCAL_THREADS,
  });
  return {
    local,
    remote,
    localModelName,
    localModelPath,
    models: { LOCAL: local, ...(remote ? { OPENAI_COMPATIBLE: remote } : {}) },
    capsuleModel: remote
      ? { model: remote, defaultModel: env.SOMA_LLM_MODEL ?? localModelName }
      : { model: local, defaultModel: localModelName },
    async [Symbol.asyncDispose]() {
      await local[Symbol.asyncDispose]();
      await remote?.[Symbol.asyncDispose]();
      await tokenCounter?.[Symbol.asyncDispose]();
    },
  };
}
