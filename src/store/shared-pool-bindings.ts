/**
 * One pool's shared bindings (docs/shared-state.md): a local {@link BindingTable} that is the cache
 * the hot path reads synchronously, in front of the store. The synchronous methods are the
 * {@link BindingStore} of that cache; each change also goes to the store:
 *
 * - a **new placement** is one atomic claim (`claimShared`): the store keeps this replica's member
 *   if the key is absent and answers with the member it holds, so the binding is in the store
 *   before the client gets its first byte, and two replicas placing one new client converge;
 * - a **binding learnt from a response** (`bindAcknowledged`, APP_COOKIE) is written at once and
 *   the response waits for the store's acknowledgement, within the budget;
 * - any other change (a rebind after a failure, a delete, a write whose claim timed out) goes
 *   through the write-back queue, with compare-and-set;
 * - traffic on cached keys is collected and refreshed in the store in batches (PEXPIRE to
 *   persistenceTimeout + one refresh period), only for keys whose TTL this replica has not set
 *   within that period (`ttl-refresher.ts`), a slice at a time so that no flush blocks the
 *   event loop; held keys are refreshed once per period too, so a binding in active use never
 *   lapses, and a refresh that finds the key gone writes the binding back.
 *
 * Keys given to it are client keys (a source IP, an APP_COOKIE value); the local cache and
 * `entries()` hold the stored form (the SHA-256 for APP_COOKIE), so no cookie value is kept twice.
 * Nothing here throws into the data path: store failures are counted and the local table answers.
 */
import type { Clock } from "../core/clock.js";
import type { MemberId } from "../core/member.js";
import {
  type BindingEntry,
  type BindingLookup,
  type BindingStore,
  BindingTable,
  type TableRemovals,
} from "../data/affinity/binding-table.js";
import { refreshTiming } from "./recent-refreshes.js";
import type { StoreLink } from "./store-link.js";
import { isEndpoint } from "./store-scripts.js";
import { bindingKey, type SharedKeyKind, storedClientKey } from "./stored-key.js";
import { TtlRefresher } from "./ttl-refresher.js";
import type { WriteBackQueue, WriteTarget } from "./write-back-queue.js";

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

export class SharedPoolBindings implements BindingStore, TableRemovals, WriteTarget {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly kind: SharedKeyKind;
  /**
   * The store's TTL: one refresh period longer than the timeout, so a key refreshed less than a
   * period ago outlives the traffic seen since (see `recent-refreshes.ts`).
   */
  readonly storeTtlMs: number;
  private readonly local: BindingTable;
  /** Refreshes the store's TTL of keys with traffic (`ttl-refresher.ts`). */
  private readonly refresher: TtlRefresher;
  /** Keys with open connections: refreshed in the store on every flush. */
  private readonly held = new Map<string, number>();
  private readonly memberPrefix: string;

  constructor(
    private readonly link: StoreLink,
    private readonly queue: WriteBackQueue,
    readonly name: string,
    flushIntervalMs: number,
    options: SharedPoolOptions,
  ) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.kind = options.kind;
    const timing = refreshTiming(options.ttlMs, flushIntervalMs);
    this.storeTtlMs = options.ttlMs + timing.refreshPeriodMs;
    this.memberPrefix = `${name}/`;
    const clock = options.clock ?? link.clock;
    this.refresher = new TtlRefresher(link, {
      pool: name,
      storeTtlMs: this.storeTtlMs,
      generationMs: timing.generationMs,
      maxEntries: options.maxEntries,
      clock,
      onGone: (sk) => {
        // Gone from the store (restarted empty, or lapsed): write our binding back.
        const cached = this.local.peek(sk);
        if (cached !== undefined && !cached.expired) {
          this.queue.add(this, sk, "", this.endpointOf(cached.member));
        }
      },
    });
    this.local = new BindingTable({
      ttlMs: options.ttlMs,
      maxEntries: options.maxEntries,
      clock,
      onEvict: (key, member) => {
        this.refresher.forget(key);
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

  /** Cached entries removed idle past the persistence timeout (`stickylb_binding_table_removals_total`). */
  get expirations(): number {
    return this.local.expirations;
  }

  /** Cached entries evicted at the cache's bound; the store keeps them (`stickylb_binding_table_removals_total`). */
  get evictions(): number {
    return this.local.evictions;
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
    this.change(key, member, false);
  }

  /**
   * Binds like {@link bind}; when that changes the binding and the store is up, the write leaves at
   * once and the promise settles when the store has it, or after the budget (never rejects).
   * Undefined when there is nothing to wait for: no change, or the store is down (the write waits
   * in the write-back queue).
   */
  bindAcknowledged(key: string, member: MemberId): Promise<void> | undefined {
    return this.change(key, member, this.link.connection.up);
  }

  private change(key: string, member: MemberId, acknowledged: boolean): Promise<void> | undefined {
    const sk = this.storedKey(key);
    const before = this.local.peek(sk);
    this.local.bind(sk, member);
    if (before?.member === member && !before.expired) {
      this.touchKey(sk);
      return undefined;
    }
    const landed = this.queue.add(
      this,
      sk,
      before === undefined ? "" : this.endpointOf(before.member),
      this.endpointOf(member),
      acknowledged,
    );
    return landed === undefined ? undefined : withinBudget(landed, this.link.budgetMs);
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
    const removed = this.forget(sk);
    this.queue.add(this, sk, "", undefined);
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
   * A new placement of a client this replica has no live entry for: one atomic round trip that
   * stores `member` if the store has no binding for the key and answers with the member the store
   * holds (ours, or another replica's). That member is cached here. Undefined when no question is
   * sent (store down, too many questions waiting); the promise resolves to `undefined` on an error
   * or no answer within the budget, and never rejects. In both cases the caller places the client
   * locally and `bind` queues the write; a claim that lands late changes nothing here, the queued
   * compare-and-set then adopts whatever the store holds.
   */
  claimShared(key: string, member: MemberId): Promise<MemberId | undefined> | undefined {
    const { link } = this;
    if (!link.mayAsk("claim")) return undefined;
    const sk = this.storedKey(key);
    const key_ = bindingKey(link.keyPrefix, this.name, sk);
    const endpoint = this.endpointOf(member);
    return link
      .ask("claim", () => link.client.stickylbClaim(key_, endpoint, this.storeTtlMs))
      .then((held) => {
        if (held === undefined) return undefined;
        // The claim set (or refreshed) the key's TTL itself: no refresh to batch for it.
        this.refresher.refreshed(sk);
        return this.cacheFromStore(sk, held);
      });
  }

  /**
   * A client bound to `from`, which may not take it, moves to `to`: compare-and-set in the store at
   * once (written when the store holds `from` or nothing, with the invalidation to the other
   * replicas), resolving to the member the store holds afterwards — `to`, or the member another
   * replica moved the client to first, either one cached here. Undefined when no question is sent;
   * `undefined` on an error or no answer within the budget: the caller then binds, and the write
   * waits in the queue with the same compare, so a late answer changes nothing. Never rejects.
   */
  rebindShared(key: string, from: MemberId, to: MemberId): Promise<MemberId | undefined> | undefined {
    const { link } = this;
    if (!link.mayAsk("bind")) return undefined;
    const sk = this.storedKey(key);
    const value = this.endpointOf(to);
    return link
      .ask("bind", () =>
        link.client.stickylbBind(
          bindingKey(link.keyPrefix, this.name, sk),
          this.endpointOf(from),
          value,
          this.storeTtlMs,
          link.channel,
          link.message(this.name, sk, value),
        ),
      )
      .then((held) => {
        if (held === undefined) return undefined;
        if (held !== value) return this.cacheFromStore(sk, held);
        this.local.bind(sk, to);
        this.refresher.refreshed(sk);
        return to;
      });
  }

  /**
   * A cached, live entry synchronously (no store operation); on a local miss or a locally lapsed
   * entry, a promise of the store's binding (or of the local answer when it has none), settled
   * within the budget and never rejected; the local answer synchronously when the store cannot
   * be asked.
   */
  lookup(key: string): BindingLookup | Promise<BindingLookup> {
    const sk = this.storedKey(key);
    const local = this.local.get(sk);
    if (local !== undefined && !local.expired) {
      this.touchKey(sk);
      return local;
    }
    const remote = this.lookupShared(key);
    if (remote === undefined) return local;
    return remote.then((member) => (member === undefined ? local : { member, expired: false }));
  }

  /**
   * Asks the store for a key this replica has no live entry for (the bindings API reads through
   * the store). Undefined when no question is sent; else the bound member (cached here) or
   * `undefined` for none, an error, or no answer within the budget. Never rejects.
   */
  lookupShared(key: string): Promise<MemberId | undefined> | undefined {
    const { link } = this;
    if (!link.mayAsk("get")) return undefined;
    const sk = this.storedKey(key);
    return link
      .ask("get", () => link.client.get(bindingKey(link.keyPrefix, this.name, sk)))
      .then((value) => (value === undefined || value === null ? undefined : this.cacheFromStore(sk, value)));
  }

  /**
   * Removes a binding for every replica and waits for the store's answer (the bindings API).
   * Resolves true when it existed here or in the store. When the store cannot be asked it rejects,
   * having removed the binding here and queued the store's delete for when the store is back.
   */
  async deleteShared(key: string): Promise<boolean> {
    const sk = this.storedKey(key);
    const local = this.forget(sk);
    const { link } = this;
    let n: number;
    try {
      n = await link.timed("delete", () =>
        link.client.stickylbDelete(
          bindingKey(link.keyPrefix, this.name, sk),
          link.channel,
          link.message(this.name, sk, undefined),
        ),
      );
    } catch (err) {
      // Still removed for everyone in the end: the delete waits in the write-back queue.
      this.queue.add(this, sk, "", undefined);
      throw err;
    }
    return local || n === 1;
  }

  /** The store kept another replica's value: follow it, unless the entry changed again here. */
  adopt(storedKey: string, wrote: string, winner: string): void {
    const now = this.local.peek(storedKey);
    if (now === undefined || this.endpointOf(now.member) !== wrote) return;
    if (!isEndpoint(winner)) return;
    this.local.bind(storedKey, this.memberPrefix + winner);
  }

  /** Another replica changed a binding: replace (or drop) the cached copy, if there is one. */
  applyRemote(storedKey: string, endpoint: string | undefined): void {
    const cached = this.local.peek(storedKey);
    if (cached === undefined) return;
    if (endpoint === undefined) this.forget(storedKey);
    else if (isEndpoint(endpoint)) this.local.bind(storedKey, this.memberPrefix + endpoint);
    this.link.metrics.invalidationsApplied++;
  }

  /** Live local entries with their endpoint, for the resync after an outage. */
  *localEntries(): Iterable<{ key: string; endpoint: string }> {
    for (const e of this.local.entries()) yield { key: e.key, endpoint: this.endpointOf(e.member) };
  }

  /** The queue wrote this key's binding (with the store's TTL): no refresh is due for a period. */
  written(storedKey: string): void {
    this.refresher.refreshed(storedKey);
  }

  /** Refreshes in the store the TTL of keys with traffic since the last flush, and of held keys. */
  flushTouches(): void {
    this.refresher.flush(this.held.keys());
  }

  private forget(sk: string): boolean {
    this.refresher.forget(sk);
    this.held.delete(sk);
    return this.local.delete(sk);
  }

  private touchKey(sk: string): void {
    this.refresher.touch(sk);
  }

  private cacheFromStore(sk: string, value: string): MemberId | undefined {
    if (!isEndpoint(value)) return undefined;
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

/** `landed`, or nothing more to wait for once `budgetMs` have passed. Never rejects. */
function withinBudget(landed: Promise<void>, budgetMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, budgetMs);
    landed.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
