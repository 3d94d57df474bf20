/**
 * Bytes read from a socket and not yet consumed: a head still arriving, or the pipelined requests
 * behind the one in flight. The first chunk is kept as it is (no copy in the common case of a head
 * that arrives whole); later chunks are appended into a buffer that doubles, so that a head sent
 * byte by byte costs linear, not quadratic, copying.
 */
export class PendingBytes {
  private store: Buffer | undefined;
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** The pending bytes (a view, valid until the next append or consume). */
  view(): Buffer {
    const store = this.store!;
    return this.start === 0 && this.end === store.length ? store : store.subarray(this.start, this.end);
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const store = this.store;
    if (store === undefined) {
      this.store = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    if (store.length - this.end < chunk.length) {
      const size = this.end - this.start;
      const grown = Buffer.allocUnsafe(Math.max(4096, 2 * (size + chunk.length)));
      store.copy(grown, 0, this.start, this.end);
      this.store = grown;
      this.start = 0;
      this.end = size;
    }
    chunk.copy(this.store!, this.end);
    this.end += chunk.length;
  }

  /** Drops the first `n` pending bytes. */
  consume(n: number): void {
    this.start += n;
    if (this.start >= this.end) this.clear();
  }

  clear(): void {
    this.store = undefined;
    this.start = 0;
    this.end = 0;
  }
}
