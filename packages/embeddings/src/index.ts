export {
  checkVectors,
  EmbeddingError,
  type EmbeddingErrorReason,
  type EmbeddingModel,
} from './EmbeddingModel';
export {
  OpenAICompatibleEmbeddingModel,
  type OpenAICompatibleEmbeddingOptions,
} from './OpenAICompatibleEmbeddingModel';
export {
  UniversalSentenceEncoderEmbeddingModel,
  type UniversalSentenceEncoderOptions,
} from './UniversalSentenceEncoderEmbeddingModel';
export {
  UniversalSentenceEncoderWorkerEmbeddingModel,
  type UniversalSentenceEncoderWorkerOptions,
} from './UniversalSentenceEncoderWorkerEmbeddingModel';
