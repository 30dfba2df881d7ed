/**
 * Remembers single-use values (the nonces of the router's signed subgraph requests) for as long
 * as they could still be presented, so each is accepted once. Embedded: in memory, one process.
 * Distributed: a shared store (e.g. Redis), so a request replayed to another replica of the same
 * subgraph is refused too.
 */
export interface NonceStore extends AsyncDisposable {
  readonly kind: string;
  /**
   * Records `nonce` for `ttlMs` milliseconds. Resolves `true` the first time, `false` when the
   * nonce is already recorded and has not expired. Atomic: of concurrent claims of one nonce,
   * exactly one resolves `true`.
   */
  claimOnce(nonce: string, ttlMs: number): Promise<boolean>;
}
