/**
 * Bindings shared by every replica through Redis/Valkey (docs/shared-state.md).
 *
 * Each pool gets a {@link SharedPoolBindings}: a local {@link BindingTable} that is the cache the
 * hot path reads synchronously, in front of the store. The store is only asked on a local miss
 * (`lookupShared`, bounded by a 50 ms budget) and written behind the hot path's back:
 *
 * - binds, rebinds and deletes go into one bounded write-back queue, drained at once while the
 *   store is up (one pipeline per tick) and kept while it is down;
 * - a bind is a compare-and-set script: it writes only when the store holds nothing, the value
 *   this replica last knew, or the same value. Otherwise the store's value wins and is adopted
 *   locally, so a write-back after an outage never overwrites a binding already in the store;
 * - a write that changes a present value publishes an invalidation from inside the same script,
 *   so messages are ordered like the writes; other replicas replace their cached entry, and a
 *   rebind after a member failure is not undone by another replica's stale cache;
 * - traffic on cached keys is collected in a set and refreshed in the store in batches
 *   (PEXPIRE to persistenceTimeout + one flush interval); held keys are refreshed on every flush
 *   so a binding in active use never lapses. A refresh that finds the key gone (the store
 *   restarted empty) writes the binding back;
 * - after the store (or the subscription) comes back, every local entry is written back the same
 *   compare-and-set way, because invalidations sent meanwhile were lost.
 *
 * The data path never waits for the store except in `lookupShared`, and nothing here throws into
 * it: store failures are counted and the local table keeps answering.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { MemberId } from "../core/member.js";
import {
  type BindingEntry,
  type BindingLookup,
  type BindingStore,
  BindingTable,
} from "../data/affinity/binding-table.js";
import type { Client, StoreConnection } from "./store-connection.js";
import type { StateStoreMetrics, StoreOp } from "./store-metrics.js";
import { bindingKey, invalidationChannel, type SharedKeyKind, storedClientKey } from "./stored-key.js";

/** The default wait for a store answer on a local miss, after which the client is placed locally. */
export const LOOKUP_BUDGET_MS = 50;

/**
 * KEYS[1] binding; ARGV: expected value ("" = none), new value, PX ms, channel, message.
 * Returns the value in the store afterwards: ARGV[2] when written, else the store's value.
 */
const BIND_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] or cur == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  if cur ~= false and cur ~= ARGV[2] then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return ARGV[2]
end
return cur`;

/** KEYS[1] binding; ARGV: channel, message. Returns 1 if a binding was removed. */
const DELETE_SCRIPT = `
local n = redis.call('DEL', KEYS[1])
if n == 1 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return n`;

type ScriptedClient = Client & {
  stickylbBind(
    key: string,
    expected: string,
    value: string,
    px: number,
    channel: string,
    msg: string,
  ): Promise<string>;
  stickylbDelete(key: string, channel: string, msg: string): Promise<number>;
};

export interface SharedBindingStoreOptions {
  readonly connection: StoreConnection;
  readonly keyPrefix: string;
  readonly log: Logger;
  readonly metrics: StateStoreMetrics;
  readonly clock?: Clock;
  /** Wait for a store answer on a local miss. Default {@link LOOKUP_BUDGET_MS}. */
  readonly lookupBudgetMs?: number;
  /** Lookups waiting for the store at once; beyond it a miss is placed locally at once. Default 1024. */
  readonly maxInFlightLookups?: number;
  /** Writes (binds, rebinds, deletes) waiting for the store, over all pools. Default 100,000. */
  readonly maxWriteBack?: number;
  /** How often traffic on cached keys is refreshed in the store. Default 1 s. */
  readonly flushIntervalMs?: number;
}

export interface SharedPoolOptions {
  /** The pool's `persistenceTimeout`. */
  readonly ttlMs: number;
  /** Bound of the local cache. */
  readonly maxEntries: number;
  readonly kind: SharedKeyKind;
  /** The local cache's clock; default the store's. */
  readonly clock?: Clock;
  /** Called once per entry evicted from the local cache at its bound (the store keeps it). */
  readonly onEvict?: (key: string, member: MemberId) => void;
}

/** A write waiting for the store. `member` undefined = delete. */
interface PendingWrite {
  readonly pool: SharedPoolBindings;
  readonly storedKey: string;
  /** The endpoint this replica knew before the change ("" = none): the compare of compare-and-set. */
  readonly expected: string;
  member: string | undefined;
}

export class SharedBindingStore {
  readonly replicaId = randomBytes(8).toString("base64url");
  readonly keyPrefix: string;
  readonly metrics: StateStoreMetrics;
  readonly lookupBudgetMs: number;
  readonly maxInFlightLookups: number;
  readonly maxWriteBack: number;
  readonly flushIntervalMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly connection: StoreConnection;
  readonly channel: string;
  inFlightLookups = 0;

  private readonly client: ScriptedClient;
  private readonly pools = new Map<string, SharedPoolBindings>();
  /** Insertion order = age; the oldest write is dropped at the bound. Keyed by pool + stored key. */
  private readonly writes = new Map<string, PendingWrite>();
  private drainScheduled = false;
  private draining: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private subscriber: Client | undefined;
  private resyncNeeded = false;
  private closed = false;
  private readonly unsubscribeState: () => void;

  constructor(options: SharedBindingStoreOptions) {
    this.connection = options.connection;
    this.keyPrefix = options.keyPrefix;
    this.metrics = options.metrics;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.lookupBudgetMs = options.lookupBudgetMs ?? LOOKUP_BUDGET_MS;
    this.maxInFlightLookups = options.maxInFlightLookups ?? 1024;
    this.maxWriteBack = options.maxWriteBack ?? 100_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.channel = invalidationChannel(this.keyPrefix);
    this.client = options.connection.client as ScriptedClient;
    this.client.defineCommand("stickylbBind", { numberOfKeys: 1, lua: BIND_SCRIPT });
    this.client.defineCommand("stickylbDelete", { numberOfKeys: 1, lua: DELETE_SCRIPT });
    this.unsubscribeState = this.connection.onStateChange((up) => {
      if (!up) {
        this.resyncNeeded = true;
        return;
      }
      this.scheduleDrain();
    });
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
    this.subscribe();
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
    const pool = new SharedPoolBindings(this, name, options);
    this.pools.set(name, pool);
    return pool;
  }

  /** Forgets pools no longer configured (their bindings stay in the store until they lapse). */
  retainPools(names: ReadonlySet<string>): void {
    for (const name of this.pools.keys()) if (!names.has(name)) this.pools.delete(name);
  }

  /** Writes waiting for the store. */
  get pendingWrites(): number {
    return this.writes.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribeState();
    this.subscriber?.disconnect();
  }

  /** Waits until the writes queued so far have been answered (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.connection.up && (this.writes.size > 0 || this.draining !== undefined)) {
      this.scheduleDrain();
      await (this.draining ?? new Promise((r) => setImmediate(r)));
    }
  }

  // ---- called by SharedPoolBindings ----

  /** @internal */
  queueWrite(
    pool: SharedPoolBindings,
    storedKey: string,
    expected: string,
    member: string | undefined,
  ): void {
    const id = `${pool.name}\n${storedKey}`;
    const pending = this.writes.get(id);
    if (pending !== undefined && pending.pool === pool) {
      // Coalesce: the compare stays what the store held before the first queued change.
      pending.member = member;
    } else {
      if (this.writes.size >= this.maxWriteBack) {
        const oldest = this.writes.keys().next();
        if (oldest.done !== true) this.writes.delete(oldest.value);
        this.metrics.writeBackDropped++;
      }
      this.writes.set(id, { pool, storedKey, expected, member });
    }
    this.scheduleDrain();
  }

  /** @internal A timed round trip, counted under `op`. */
  async timed<T>(op: StoreOp, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const result = await run();
      this.metrics.observe((performance.now() - start) / 1000);
      this.metrics.count(op, "ok");
      return result;
    } catch (err) {
      this.metrics.observe((performance.now() - start) / 1000);
      this.metrics.count(op, "error");
      throw err;
    }
  }

  /** @internal */
  get scripted(): ScriptedClient {
    return this.client;
  }

  /** @internal The invalidation message for a change made by this replica. */
  message(pool: string, storedKey: string, member: string | undefined): string {
    return JSON.stringify([this.replicaId, pool, storedKey, member ?? null]);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    // The writes of one callback become one pipeline (auto-pipelining sends what is issued in one
    // tick). A microtask, not setImmediate: the write then leaves right after the response that
    // taught it, before the client can reach another replica, even when this event loop is busy.
    queueMicrotask(() => {
      this.drainScheduled = false;
      if (this.draining === undefined && this.connection.up) {
        this.draining = this.drain().finally(() => {
          this.draining = undefined;
          if (this.writes.size > 0 && this.connection.up) this.scheduleDrain();
        });
      }
    });
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
    await Promise.all(batch.map((w) => this.send(w).catch(() => failed.push(w))));
    // Requeue what failed unless a newer change to the same key was queued meanwhile.
    for (const w of failed) {
      const id = `${w.pool.name}\n${w.storedKey}`;
      if (!this.writes.has(id) && this.writes.size < this.maxWriteBack) this.writes.set(id, w);
    }
    if (failed.length === 0 && this.resyncNeeded && this.writes.size === 0) {
      this.resyncNeeded = false;
      await this.resync();
    }
  }

  private async send(w: PendingWrite): Promise<void> {
    const key = bindingKey(this.keyPrefix, w.pool.name, w.storedKey);
    const msg = this.message(w.pool.name, w.storedKey, w.member);
    if (w.member === undefined) {
      await this.timed("delete", () => this.client.stickylbDelete(key, this.channel, msg));
      return;
    }
    const member = w.member;
    const winner = await this.timed("bind", () =>
      this.client.stickylbBind(key, w.expected, member, w.pool.storeTtlMs, this.channel, msg),
    );
    if (winner !== member) w.pool.adopt(w.storedKey, member, winner);
  }

  /**
   * After the store or the subscription was lost: offer every local entry again (compare-and-set
   * against "none", so the store's value wins where it has one). Bounded work, once per recovery.
   */
  private async resync(): Promise<void> {
    for (const pool of this.pools.values()) {
      const rows = [...pool.localEntries()];
      for (let i = 0; i < rows.length && this.connection.up; i += 5000) {
        await Promise.all(
          rows.slice(i, i + 5000).map((r) =>
            this.send({ pool, storedKey: r.key, expected: "", member: r.endpoint }).catch(() => {
              this.resyncNeeded = true;
            }),
          ),
        );
      }
    }
  }

  /** Refreshes the store's TTL of keys with traffic since the last flush (and of held keys). */
  private flush(): void {
    if (!this.connection.up) return;
    if (this.writes.size > 0 || this.resyncNeeded) this.scheduleDrain();
    for (const pool of this.pools.values()) pool.flushTouches();
  }

  private subscribe(): void {
    const sub = this.connection.duplicate();
    this.subscriber = sub;
    let subscribedOnce = false;
    sub.on("ready", () => {
      sub.subscribe(this.channel).catch(() => {
        // Retried on the next "ready".
      });
      // Messages sent while the subscription was gone are lost: check every cached entry again.
      if (subscribedOnce) {
        this.resyncNeeded = true;
        this.scheduleDrain();
      }
      subscribedOnce = true;
    });
    sub.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        this.onInvalidation(message);
      } catch (err) {
        this.log.debug({ err }, "state store: ignored a malformed invalidation message");
      }
    });
    sub.connect().catch(() => {
      // Retried with backoff by the client.
    });
  }

  private onInvalidation(message: string): void {
    const parsed: unknown = JSON.parse(message);
    if (!Array.isArray(parsed) || parsed.length !== 4) return;
    const [from, pool, storedKey, member] = parsed as [unknown, unknown, unknown, unknown];
    if (from === this.replicaId || typeof pool !== "string" || typeof storedKey !== "string") return;
    if (member !== null && typeof member !== "string") return;
    this.pools.get(pool)?.applyRemote(storedKey, member ?? undefined);
  }
}

/**
 * One pool's shared bindings. The synchronous methods are the {@link BindingStore} of the local
 * cache (what the hot path calls); they queue the store's side of each change. Keys given to it are
 * client keys (a source IP, an APP_COOKIE value); the local cache and `entries()` hold the stored
 * form (the SHA-256 for APP_COOKIE), so no cookie value is kept twice.
 */
export class SharedPoolBindings implements BindingStore {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly kind: SharedKeyKind;
  /** The store's TTL: one flush interval longer, so a key touched just after a flush survives until the next. */
  readonly storeTtlMs: number;
  private readonly local: BindingTable;
  /**
   * Keys with traffic since the last flush. Bounded like the local table: past the bound a touch
   * is not remembered, which is harmless because the resync after an outage (the only time the set
   * grows that large) refreshes every cached key anyway.
   */
  private touched = new Set<string>();
  /** Keys with open connections: refreshed in the store on every flush. */
  private readonly held = new Map<string, number>();
  private readonly memberPrefix: string;

  constructor(
    private readonly shared: SharedBindingStore,
    readonly name: string,
    options: SharedPoolOptions,
  ) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.kind = options.kind;
    this.storeTtlMs = options.ttlMs + shared.flushIntervalMs;
    this.memberPrefix = `${name}/`;
    this.local = new BindingTable({
      ttlMs: options.ttlMs,
      maxEntries: options.maxEntries,
      clock: options.clock ?? shared.clock,
      onEvict: (key, member) => {
        this.touched.delete(key);
        this.held.delete(key);
        options.onEvict?.(key, member);
      },
    });
  }

  /** The stored form of a client key (what the cache, the store and `entries()` use). */
  storedKey(key: string): string {
    return storedClientKey(this.kind, key);
  }

  get size(): number {
    return this.local.size;
  }

  get(key: string): BindingLookup {
    const sk = this.storedKey(key);
    const r = this.local.get(sk);
    if (r !== undefined && !r.expired) this.touchKey(sk);
    return r;
  }

  peek(key: string): BindingLookup {
    return this.local.peek(this.storedKey(key));
  }

  bind(key: string, member: MemberId): void {
    const sk = this.storedKey(key);
    const before = this.local.peek(sk);
    this.local.bind(sk, member);
    if (before?.member === member && !before.expired) {
      this.touchKey(sk);
      return;
    }
    this.shared.queueWrite(
      this,
      sk,
      before === undefined ? "" : this.endpointOf(before.member),
      this.endpointOf(member),
    );
  }

  touch(key: string): void {
    const sk = this.storedKey(key);
    const r = this.local.peek(sk);
    this.local.touch(sk);
    if (r !== undefined && !r.expired) this.touchKey(sk);
  }

  /** Removes the binding here and, through the write-back queue, in the store and on every replica. */
  delete(key: string): boolean {
    const sk = this.storedKey(key);
    const removed = this.local.delete(sk);
    this.touched.delete(sk);
    this.held.delete(sk);
    this.shared.queueWrite(this, sk, "", undefined);
    return removed;
  }

  hold(key: string): void {
    const sk = this.storedKey(key);
    if (this.local.peek(sk) === undefined) return;
    this.local.hold(sk);
    this.held.set(sk, (this.held.get(sk) ?? 0) + 1);
  }

  release(key: string): void {
    const sk = this.storedKey(key);
    this.local.release(sk);
    const n = this.held.get(sk);
    if (n === undefined) return;
    if (n <= 1) {
      this.held.delete(sk);
      this.touchKey(sk);
    } else this.held.set(sk, n - 1);
  }

  /** Local only: each replica removes a member's bindings itself when the member leaves its configuration. */
  deleteMember(member: MemberId): number {
    return this.local.deleteMember(member);
  }

  sweep(graceMs = 0): number {
    return this.local.sweep(graceMs);
  }

  entries(): Iterable<BindingEntry> {
    return this.local.entries();
  }

  bindingsOf(member: MemberId): number {
    return this.local.bindingsOf(member);
  }

  /**
   * The placement front's one call. A cached, live entry comes back synchronously (no store
   * operation); on a local miss or a locally lapsed entry the store is asked and a promise comes
   * back, settled within the lookup budget (never rejected). When the store cannot be asked (down,
   * too many lookups in flight) the local answer comes back synchronously: `undefined` (place the
   * client) or the lapsed entry (count `expired`, place the client).
   */
  lookup(key: string): BindingLookup | Promise<BindingLookup> {
    const sk = this.storedKey(key);
    const local = this.local.get(sk);
    if (local !== undefined && !local.expired) {
      this.touchKey(sk);
      return local;
    }
    const remote = this.askStore(sk);
    if (remote === undefined) return local;
    return remote.then((member) => (member === undefined ? local : { member, expired: false }));
  }

  /**
   * On a local miss (or a locally expired entry): asks the store. Returns `undefined` at once when
   * no question is sent (store down, too many lookups in flight); otherwise a promise of the bound
   * member, or `undefined` for no binding, an error, or no answer within the budget. A member found
   * is cached locally; the caller still checks that it may take the client.
   */
  lookupShared(key: string): Promise<MemberId | undefined> | undefined {
    return this.askStore(this.storedKey(key));
  }

  private askStore(sk: string): Promise<MemberId | undefined> | undefined {
    const shared = this.shared;
    if (!shared.connection.up || shared.inFlightLookups >= shared.maxInFlightLookups) {
      shared.metrics.count("get", "skipped");
      return undefined;
    }
    shared.inFlightLookups++;
    const start = performance.now();
    return new Promise<MemberId | undefined>((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        shared.metrics.count("get", "timeout");
        resolve(undefined);
      }, shared.lookupBudgetMs);
      shared.scripted.get(bindingKey(shared.keyPrefix, this.name, sk)).then(
        (value) => {
          shared.inFlightLookups--;
          shared.metrics.observe((performance.now() - start) / 1000);
          if (done) return; // Counted as a timeout; the client was placed locally meanwhile.
          done = true;
          clearTimeout(timer);
          shared.metrics.count("get", "ok");
          resolve(this.cacheFromStore(sk, value));
        },
        () => {
          shared.inFlightLookups--;
          shared.metrics.observe((performance.now() - start) / 1000);
          if (done) return;
          done = true;
          clearTimeout(timer);
          shared.metrics.count("get", "error");
          resolve(undefined);
        },
      );
    });
  }

  /**
   * Removes a binding for every replica and waits for the store's answer (the bindings API).
   * Resolves true when it existed here or in the store. When the store cannot be asked it rejects,
   * having removed the binding here and queued the store's delete for when the store is back.
   */
  async deleteShared(key: string): Promise<boolean> {
    const sk = this.storedKey(key);
    const local = this.local.delete(sk);
    this.touched.delete(sk);
    this.held.delete(sk);
    const shared = this.shared;
    let n: number;
    try {
      n = await shared.timed("delete", () =>
        shared.scripted.stickylbDelete(
          bindingKey(shared.keyPrefix, this.name, sk),
          shared.channel,
          shared.message(this.name, sk, undefined),
        ),
      );
    } catch (err) {
      // Still removed for everyone in the end: the delete waits in the write-back queue.
      shared.queueWrite(this, sk, "", undefined);
      throw err;
    }
    return local || n === 1;
  }

  /** @internal The store kept another replica's value: follow it, unless the entry changed again here. */
  adopt(storedKey: string, wrote: string, winner: string): void {
    const now = this.local.peek(storedKey);
    if (now === undefined || this.endpointOf(now.member) !== wrote) return;
    if (!isEndpoint(winner)) return;
    this.local.bind(storedKey, this.memberPrefix + winner);
  }

  /** @internal Another replica changed a binding: replace (or drop) the cached copy, if there is one. */
  applyRemote(storedKey: string, endpoint: string | undefined): void {
    const cached = this.local.peek(storedKey);
    if (cached === undefined) return;
    if (endpoint === undefined) {
      this.local.delete(storedKey);
      this.touched.delete(storedKey);
      this.held.delete(storedKey);
    } else if (isEndpoint(endpoint)) {
      this.local.bind(storedKey, this.memberPrefix + endpoint);
    }
    this.shared.metrics.invalidationsApplied++;
  }

  /** @internal Live local entries with their endpoint, for the resync after an outage. */
  *localEntries(): Iterable<{ key: string; endpoint: string }> {
    for (const e of this.local.entries()) yield { key: e.key, endpoint: this.endpointOf(e.member) };
  }

  /** @internal */
  flushTouches(): void {
    const keys = this.touched;
    this.touched = new Set();
    for (const sk of this.held.keys()) keys.add(sk);
    if (keys.size === 0) return;
    const shared = this.shared;
    for (const sk of keys) {
      shared
        .timed("touch", () =>
          shared.scripted.pexpire(bindingKey(shared.keyPrefix, this.name, sk), this.storeTtlMs),
        )
        .then(
          (n) => {
            if (n === 1) return;
            // Gone from the store (restarted empty, or lapsed): write our binding back.
            const cached = this.local.peek(sk);
            if (cached !== undefined && !cached.expired) {
              shared.queueWrite(this, sk, "", this.endpointOf(cached.member));
            }
          },
          () => {
            // Counted; the key is refreshed again with the next traffic or resync.
          },
        );
    }
  }

  private touchKey(sk: string): void {
    if (this.touched.size < this.maxEntries) this.touched.add(sk);
  }

  private cacheFromStore(sk: string, value: string | null): MemberId | undefined {
    if (value === null || !isEndpoint(value)) return undefined;
    const member = this.memberPrefix + value;
    // The store's answer is the shared truth; the local entry (if a stale one lapsed here) follows it.
    this.local.bind(sk, member);
    this.touchKey(sk);
    return member;
  }

  private endpointOf(member: MemberId): string {
    return member.startsWith(this.memberPrefix) ? member.slice(this.memberPrefix.length) : member;
  }
}

/** `ADDRESS:PORT` as written by a replica; anything else in the store is ignored, never used. */
function isEndpoint(value: string): boolean {
  return (
    value.length > 0 && value.length <= 64 && /^(\[[0-9A-Fa-f:.%a-z]+\]|[^\s:/[\]]+):\d{1,5}$/.test(value)
  );
}
