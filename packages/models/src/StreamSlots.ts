/**
 * A counting semaphore for model streams: at most `size` requests are on the wire to one model
 * server; the rest wait here, first come first served, and leave the queue when their signal
 * aborts. Why: a model server has a few decoding slots (llama-server `--parallel`, a provider's
 * concurrency limit). Sending it 1,000 requests at once only moves the queue into its HTTP layer,
 * where waiting counts against our request timeout and connections are dropped under load (seen
 * in bench/sessions at 1,000 concurrent sessions). Queued here, a request's timeout starts when it
 * is actually sent.
 */
export class StreamSlots {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`stream slots must be ≥ 1, got ${size}`);
  }

  /** Requests on the wire now. */
  get active(): number {
    return this.inUse;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free, or with `undefined` when `signal`
   * aborts first (the caller then reports cancellation; nothing was sent).
   */
  acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    if (this.inUse < this.size) {
      this.inUse++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => {
      const take = () => {
        signal?.removeEventListener('abort', onAbort);
        this.inUse++;
        resolve(this.releaser());
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(take);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      this.waiting.shift()?.();
    };
  }
}
