/**
 * Holds the current configuration snapshot. The control path builds a whole new snapshot and
 * swaps this one reference (docs/architecture.md); the data path reads `current` once per connection or
 * request, so work in progress keeps the snapshot it started with.
 */
export class SnapshotHolder<T> {
  constructor(private snapshot: T) {}

  get current(): T {
    return this.snapshot;
  }

  /**
   * Nothing subscribes to a swap: whoever swaps (the runtime) tells the parts that must react, so
   * a part that goes away leaves no reference behind.
   */
  swap(next: T): void {
    this.snapshot = next;
  }
}
