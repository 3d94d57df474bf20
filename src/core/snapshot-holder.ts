/**
 * Holds the current configuration snapshot. The control path builds a whole new snapshot and
 * swaps this one reference (STYLE point 4); the data path reads `current` once per connection or
 * request, so work in progress keeps the snapshot it started with.
 */
export class SnapshotHolder<T> {
  private readonly subscribers: ((next: T, previous: T) => void)[] = [];

  constructor(private snapshot: T) {}

  get current(): T {
    return this.snapshot;
  }

  swap(next: T): void {
    const previous = this.snapshot;
    this.snapshot = next;
    for (const s of this.subscribers) s(next, previous);
  }

  onSwap(subscriber: (next: T, previous: T) => void): void {
    this.subscribers.push(subscriber);
  }
}
