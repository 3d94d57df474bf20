/**
 * Bindings shared by every replica through Redis/Valkey (docs/shared-state.md): one per state
 * store, holding what the pools share — the {@link StoreLink} (client, scripts, metrics, budget),
 * the {@link WriteBackQueue}, the {@link InvalidationSubscriber} and the refresh timer — and one
 * {@link SharedPoolBindings} per sticky pool, the local cache the hot path reads.
 *
 * When the store (or the subscription) comes back after an outage, the queue is drained and then
 * every local entry is offered again with compare-and-set, because invalidations sent meanwhile
 * were lost and the store may have restarted empty.
 */
import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import { InvalidationSubscriber } from "./invalidation-subscriber.js";
import { SharedPoolBindings, type SharedPoolOptions } from "./shared-pool-bindings.js";
import type { StoreConnection } from "./store-connection.js";
import { LOOKUP_BUDGET_MS, StoreLink } from "./store-link.js";
import type { StateStoreMetrics } from "./store-metrics.js";
import { WriteBackQueue } from "./write-back-queue.js";

export { SharedPoolBindings, type SharedPoolOptions } from "./shared-pool-bindings.js";
export { LOOKUP_BUDGET_MS } from "./store-link.js";

export interface SharedBindingStoreOptions {
  readonly connection: StoreConnection;
  readonly keyPrefix: string;
  readonly log: Logger;
  readonly metrics: StateStoreMetrics;
  readonly clock?: Clock;
  /** How long a client waits for the store (a claim, a held response). Default {@link LOOKUP_BUDGET_MS}. */
  readonly lookupBudgetMs?: number;
  /** Questions waiting for the store at once; beyond it a new client is placed at once. Default 1024. */
  readonly maxInFlightLookups?: number;
  /** Writes (binds, rebinds, deletes) waiting for the store, over all pools. Default 100,000. */
  readonly maxWriteBack?: number;
  /** How often traffic on cached keys is refreshed in the store. Default 1 s. */
  readonly flushIntervalMs?: number;
}

export class SharedBindingStore {
  readonly link: StoreLink;
  readonly flushIntervalMs: number;
  private readonly pools = new Map<string, SharedPoolBindings>();
  private readonly queue: WriteBackQueue;
  private readonly subscriber: InvalidationSubscriber;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribeState: () => void;

  constructor(options: SharedBindingStoreOptions) {
    this.link = new StoreLink(
      options.connection,
      options.keyPrefix,
      options.metrics,
      options.log,
      options.clock ?? systemClock,
      options.lookupBudgetMs ?? LOOKUP_BUDGET_MS,
      options.maxInFlightLookups ?? 1024,
    );
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.queue = new WriteBackQueue(this.link, options.maxWriteBack ?? 100_000, () => this.pools.values());
    this.unsubscribeState = options.connection.onStateChange((up) => {
      if (!up) {
        this.queue.resyncNeeded = true;
        return;
      }
      this.queue.schedule();
    });
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
    this.subscriber = new InvalidationSubscriber(
      options.connection,
      this.link,
      (pool, storedKey, member) => this.pools.get(pool)?.applyRemote(storedKey, member),
      () => {
        this.queue.resyncNeeded = true;
        this.queue.schedule();
      },
    );
  }

  get keyPrefix(): string {
    return this.link.keyPrefix;
  }

  get metrics(): StateStoreMetrics {
    return this.link.metrics;
  }

  get replicaId(): string {
    return this.link.replicaId;
  }

  /**
   * The shared bindings of one pool; the same object for the same name while its options stay
   * (a reload keeps the cache), a new one when they change.
   */
  pool(name: string, options: SharedPoolOptions): SharedPoolBindings {
    const existing = this.pools.get(name);
    if (
      existing !== undefined &&
      existing.ttlMs === options.ttlMs &&
      existing.maxEntries === options.maxEntries &&
      existing.kind === options.kind
    ) {
      return existing;
    }
    const pool = new SharedPoolBindings(this.link, this.queue, name, this.flushIntervalMs, options);
    this.pools.set(name, pool);
    return pool;
  }

  /** Forgets pools no longer configured (their bindings stay in the store until they lapse). */
  retainPools(names: ReadonlySet<string>): void {
    for (const name of this.pools.keys()) if (!names.has(name)) this.pools.delete(name);
  }

  /** Writes waiting for the store. */
  get pendingWrites(): number {
    return this.queue.size;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribeState();
    this.queue.close();
    this.subscriber.close();
  }

  /** Waits until the writes queued so far have been answered (tests, shutdown). */
  settle(): Promise<void> {
    return this.queue.settle();
  }

  /** Refreshes the store's TTL of keys with traffic since the last flush (and of held keys). */
  private flush(): void {
    if (!this.link.connection.up) return;
    if (this.queue.size > 0 || this.queue.resyncNeeded) this.queue.schedule();
    for (const pool of this.pools.values()) pool.flushTouches();
  }
}
