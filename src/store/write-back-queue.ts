/**
 * The bounded write-back queue of the shared bindings (docs/shared-state.md): binds, rebinds and
 * deletes a replica made that the store has not acknowledged yet. It is drained at once while the
 * store is up and kept while it is down, so a replica goes on serving from its own table and
 * writes back what it did as soon as the store returns.
 *
 * - A bind is the compare-and-set script: it writes only when the store holds nothing, the value
 *   this replica last knew, or the same value; otherwise the store's value wins and is adopted
 *   locally, so a write-back never overwrites a binding already in the store.
 * - Two changes of one key coalesce (the compare stays what the store held before the first).
 * - A write may have waiters (a response held until the store acknowledges the binding it teaches,
 *   `SharedPoolBindings.bindAcknowledged`): such a write leaves at once on its own rather than
 *   with the next drain (which may be waiting for a batch in flight); its waiters are told when it
 *   lands, or when it is dropped, and their own budget timer lets them go on without it.
 * - At the bound the oldest write is dropped (counted); the binding stays in the local table and
 *   is offered again by the resync after an outage.
 */
import type { StoreLink } from "./store-link.js";
import { bindingKey } from "./stored-key.js";

/**
 * Entries offered together by the resync after an outage; the next slice leaves when this one is
 * answered, so that resyncing a large table never blocks the event loop for long.
 */
const RESYNC_SLICE = 500;

/** What the queue needs of a pool's shared bindings. */
export interface WriteTarget {
  readonly name: string;
  /** The store's TTL of a binding (ms). */
  readonly storeTtlMs: number;
  /** The store kept another value than `wrote`: follow it locally. */
  adopt(storedKey: string, wrote: string, winner: string): void;
  /** The store took this replica's value, with a fresh TTL. */
  written(storedKey: string): void;
  /** Live local entries with their endpoint, for the resync after an outage. */
  localEntries(): Iterable<{ key: string; endpoint: string }>;
}

/** A write waiting for the store. `member` undefined = delete. */
interface PendingWrite {
  readonly pool: WriteTarget;
  readonly storedKey: string;
  /** The endpoint this replica knew before the change ("" = none): the compare of compare-and-set. */
  readonly expected: string;
  member: string | undefined;
  /** Told once the write landed (or was dropped). */
  waiters: (() => void)[] | undefined;
}

export class WriteBackQueue {
  /** Insertion order = age; the oldest write is dropped at the bound. Keyed by pool + stored key. */
  private readonly writes = new Map<string, PendingWrite>();
  private drainScheduled = false;
  private draining: Promise<void> | undefined;
  /** The store or the subscription was lost: offer every local entry again once it is back. */
  resyncNeeded = false;
  private closed = false;
  /** Acknowledged writes sent on their own, not yet answered. */
  private sendingNow = 0;

  constructor(
    private readonly link: StoreLink,
    private readonly max: number,
    /** The pools to offer again after an outage. */
    private readonly pools: () => Iterable<WriteTarget>,
  ) {}

  get size(): number {
    return this.writes.size;
  }

  get busy(): boolean {
    return this.writes.size > 0 || this.draining !== undefined || this.sendingNow > 0;
  }

  /**
   * Queues a change of one key; with `acknowledged`, returns a promise settled when the store has
   * it (never rejected; the caller bounds its own wait).
   */
  add(
    pool: WriteTarget,
    storedKey: string,
    expected: string,
    member: string | undefined,
    acknowledged = false,
  ): Promise<void> | undefined {
    const id = `${pool.name}\n${storedKey}`;
    let pending = this.writes.get(id);
    if (pending !== undefined && pending.pool === pool) {
      pending.member = member;
    } else {
      if (this.writes.size >= this.max) this.dropOldest();
      pending = { pool, storedKey, expected, member, waiters: undefined };
      this.writes.set(id, pending);
    }
    const write = pending;
    const landed = acknowledged
      ? new Promise<void>((resolve) => {
          write.waiters ??= [];
          write.waiters.push(resolve);
        })
      : undefined;
    if (acknowledged && this.link.connection.up && !this.closed) {
      // Someone waits for this one: it leaves now, not behind a drain that may be in flight.
      this.writes.delete(id);
      this.sendingNow++;
      this.send(write)
        .then(
          () => release(write),
          () => this.requeue(write),
        )
        .finally(() => this.sendingNow--);
    } else this.schedule();
    return landed;
  }

  /** Drains soon if the store is up (after a state change, on the flush timer). */
  schedule(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    // The writes of one callback leave together; a microtask, not setImmediate, so that a write
    // leaves right after the response that taught it, even when this event loop is busy.
    queueMicrotask(() => {
      this.drainScheduled = false;
      if (this.draining === undefined && this.link.connection.up) {
        this.draining = this.drain().finally(() => {
          this.draining = undefined;
          if (this.writes.size > 0 && this.link.connection.up) this.schedule();
        });
      }
    });
  }

  /** Waits until the writes queued so far have been answered (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.link.connection.up && this.busy) {
      this.schedule();
      await (this.draining ?? new Promise((r) => setImmediate(r)));
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.writes.values()) release(w);
  }

  private dropOldest(): void {
    const oldest = this.writes.entries().next();
    if (oldest.done === true) return;
    this.writes.delete(oldest.value[0]);
    release(oldest.value[1]);
    this.link.metrics.writeBackDropped++;
  }

  private async drain(): Promise<void> {
    const batch: PendingWrite[] = [];
    // Deleting the current entry while iterating a Map is well-defined in JavaScript.
    for (const [id, w] of this.writes) {
      batch.push(w);
      this.writes.delete(id);
      if (batch.length >= 10_000) break;
    }
    const failed: PendingWrite[] = [];
    await Promise.all(
      batch.map((w) =>
        this.send(w).then(
          () => release(w),
          () => failed.push(w),
        ),
      ),
    );
    for (const w of failed) this.requeue(w);
    if (failed.length === 0 && this.resyncNeeded && this.writes.size === 0) {
      this.resyncNeeded = false;
      await this.resync();
    }
  }

  /** A write that failed waits again, unless a newer change to the same key was queued meanwhile. */
  private requeue(w: PendingWrite): void {
    const id = `${w.pool.name}\n${w.storedKey}`;
    if (!this.writes.has(id) && this.writes.size < this.max && !this.closed) this.writes.set(id, w);
    else release(w);
  }

  private async send(w: PendingWrite): Promise<void> {
    const { link } = this;
    const key = bindingKey(link.keyPrefix, w.pool.name, w.storedKey);
    const msg = link.message(w.pool.name, w.storedKey, w.member);
    if (w.member === undefined) {
      await link.timed("delete", () => link.client.stickylbDelete(key, link.channel, msg));
      return;
    }
    const member = w.member;
    const winner = await link.timed("bind", () =>
      link.client.stickylbBind(key, w.expected, member, w.pool.storeTtlMs, link.channel, msg),
    );
    if (winner === member) w.pool.written(w.storedKey);
    else w.pool.adopt(w.storedKey, member, winner);
  }

  /**
   * After the store or the subscription was lost: offer every local entry again (compare-and-set
   * against "none", so the store's value wins where it has one). Bounded work, once per recovery.
   */
  private async resync(): Promise<void> {
    for (const pool of this.pools()) {
      const rows = [...pool.localEntries()];
      for (let i = 0; i < rows.length && this.link.connection.up; i += RESYNC_SLICE) {
        await Promise.all(
          rows.slice(i, i + RESYNC_SLICE).map((r) =>
            this.send({ pool, storedKey: r.key, expected: "", member: r.endpoint, waiters: undefined }).catch(
              () => {
                this.resyncNeeded = true;
              },
            ),
          ),
        );
      }
    }
  }
}

function release(w: PendingWrite): void {
  const waiters = w.waiters;
  if (waiters === undefined) return;
  w.waiters = undefined;
  for (const resolve of waiters) resolve();
}
