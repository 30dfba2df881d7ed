export interface MemoryLimits {
  /** Characters of one remembered text. @default 8000 */
  maxMemoryChars: number;
  /** Characters of one document. @default 1_000_000 */
  maxDocumentChars: number;
  /** Chunks of one document (each is embedded). @default 2000 */
  maxChunksPerDocument: number;
  /** Characters of a recall query or question. @default 2000 */
  maxQueryChars: number;
  /** Upper bound of recall's k. @default 50 */
  maxK: number;
  /** Upper bound of retrieveContext's k. @default 20 */
  maxContextK: number;
  /** Serialized size of a metadata object. @default 16384 bytes */
  maxMetadataBytes: number;
  /** @default 1000 */
  defaultChunkSize: number;
  /** @default 150 */
  defaultChunkOverlap: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = {
  maxMemoryChars: 8000,
  maxDocumentChars: 1_000_000,
  maxChunksPerDocument: 2000,
  maxQueryChars: 2000,
  maxK: 50,
  maxContextK: 20,
  maxMetadataBytes: 16_384,
  defaultChunkSize: 1000,
  defaultChunkOverlap: 150,
};
