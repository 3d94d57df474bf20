/**
 * Binding tables: the bounded, expiring memory of "this client key goes to that member" used by
 * SOURCE_IP persistence (key = client IP) and APP_COOKIE (key = the application's cookie value).
 *
 * Modelled on HAProxy stick tables (STYLE point 8): a maximum size with oldest-first eviction, and
 * expiry through a deadline-ordered index instead of a scan. The index costs nothing extra here:
 * every entry of one table has the same idle timeout, so ordering entries by their last touch *is*
 * ordering them by deadline. A JavaScript `Map` iterates in insertion order, and a touch is
 * `delete` + `set`, which moves the key to the end. The front of the map is therefore both the
 * least recently used entry (the one to evict) and the earliest deadline (the one to expire), and
 * `sweep()` pops from the front while the front has expired: O(expired), not O(size).
 *
 * Keys with open connections (`hold`) must not expire (SPEC 6.2: an open connection counts as
 * traffic until it closes). They leave the deadline order for a separate map and come back, with
 * a fresh idle timer, on their last `release`.
 */
import { type Clock, systemClock } from "../../core/clock.js";
import type { MemberId } from "../../core/member.js";

/**
 * What a lookup found. An entry past its idle timeout is reported once as `expired: true` (so the
 * caller can count `expired` apart from `miss`) and removed; later lookups see `undefined`.
 */
export type BindingLookup =
  | { readonly member: MemberId; readonly expired: false }
  | { readonly member: MemberId; readonly expired: true }
  | undefined;

/** One binding as the admin API shows it. `idleMs` is 0 while the key has open connections. */
export interface BindingEntry {
  readonly key: string;
  readonly member: MemberId;
  readonly idleMs: number;
  /** Open connections holding the key alive. */
  readonly holds: number;
}

/**
 * A store of bindings. Every implementation passes test/conformance/binding-store-conformance.
 * All methods are synchronous and never throw on the data path.
 */
export interface BindingStore {
  /** Looks a key up; a live hit counts as traffic and restarts its idle timer. */
  get(key: string): BindingLookup;
  /** Looks a key up without touching or removing it (admin, tests). */
  peek(key: string): BindingLookup;
  /** Binds (or rebinds) a key to a member and restarts its idle timer; may evict the oldest entry. */
  bind(key: string, member: MemberId): void;
  /** Restarts the idle timer of a live key; no effect on a missing or expired key. */
  touch(key: string): void;
  delete(key: string): boolean;
  /** An open connection for the key: the binding does not expire until the matching release. */
  hold(key: string): void;
  /** The connection closed; on the last release the idle timer restarts from now. */
  release(key: string): void;
  /** Removes every binding to a member; returns how many. */
  deleteMember(member: MemberId): number;
  /** Entries stored, including expired ones that no lookup or sweep has removed yet. */
  readonly size: number;
  /** Removes the expired entries; returns how many. Called by the runtime on a timer. */
  sweep(): number;
  /** Live entries, for the admin API. */
  entries?(): Iterable<BindingEntry>;
  /** Stored entries bound to a member. */
  bindingsOf?(member: MemberId): number;
}

export interface BindingTableOptions {
  /** Idle time after which a binding lapses (the pool's `persistenceTimeout`). */
  readonly ttlMs: number;
  /** Bound on entries; binding a new key at the bound evicts the least recently used one. */
  readonly maxEntries: number;
  readonly clock?: Clock;
  /** Called once per entry evicted to respect `maxEntries` (not for expiry). */
  readonly onEvict?: (key: string, member: MemberId) => void;
}

/**
 * One per distinct member: interns the MemberId so a million entries share one string, counts the
 * member's entries (admin API, and `deleteMember` skips the scan when there are none), and keeps a
 * preallocated hit result so that `get` allocates nothing.
 */
class MemberRef {
  count = 0;
  readonly hit: { readonly member: MemberId; readonly expired: false };
  constructor(readonly id: MemberId) {
    this.hit = { member: id, expired: false };
  }
}

/** An entry in the deadline order. `at` is the last touch, in ms since the table's epoch. */
class IdleEntry {
  constructor(
    public ref: MemberRef,
    public at: number,
  ) {}
}

class HeldEntry {
  constructor(
    public ref: MemberRef,
    public holds: number,
  ) {}
}

export class BindingTable implements BindingStore {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Entries removed to respect the bound since the table was made. */
  evictions = 0;
  /** Entries removed because they expired (by lookup or sweep). */
  expirations = 0;

  private readonly clock: Clock;
  private readonly onEvict: ((key: string, member: MemberId) => void) | undefined;
  /** Insertion order = last-touch order = deadline order. */
  private readonly idle = new Map<string, IdleEntry>();
  /** Keys with open connections; insertion order = when they became held. */
  private readonly held = new Map<string, HeldEntry>();
  private readonly members = new Map<MemberId, MemberRef>();
  /**
   * Times are kept relative to the table's creation so that they stay small integers (V8 stores
   * those inline; an absolute epoch-ms value needs a 16-byte heap number per entry) for ~24 days.
   */
  private readonly epoch: number;
  /** Latest time seen; a clock that steps back must not break the deadline order. */
  private last = 0;

  constructor(options: BindingTableOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${options.ttlMs}`);
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer >= 1, got ${options.maxEntries}`);
    }
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.clock = options.clock ?? systemClock;
    this.onEvict = options.onEvict;
    this.epoch = this.clock.now();
  }

  get size(): number {
    return this.idle.size + this.held.size;
  }

  get(key: string): BindingLookup {
    const held = this.held.get(key);
    if (held !== undefined) return held.ref.hit;
    const e = this.idle.get(key);
    if (e === undefined) return undefined;
    const now = this.now();
    this.idle.delete(key);
    if (now - e.at >= this.ttlMs) {
      this.unref(e.ref);
      this.expirations++;
      return { member: e.ref.id, expired: true };
    }
    e.at = now;
    this.idle.set(key, e);
    return e.ref.hit;
  }

  peek(key: string): BindingLookup {
    const held = this.held.get(key);
    if (held !== undefined) return held.ref.hit;
    const e = this.idle.get(key);
    if (e === undefined) return undefined;
    return this.now() - e.at >= this.ttlMs ? { member: e.ref.id, expired: true } : e.ref.hit;
  }

  bind(key: string, member: MemberId): void {
    const held = this.held.get(key);
    if (held !== undefined) {
      // A rebind (redispatch) while connections are open: they still hold the key.
      if (held.ref.id !== member) {
        this.unref(held.ref);
        held.ref = this.ref(member);
      }
      return;
    }
    const now = this.now();
    const e = this.idle.get(key);
    if (e !== undefined) {
      this.idle.delete(key);
      if (e.ref.id !== member) {
        this.unref(e.ref);
        e.ref = this.ref(member);
      }
      e.at = now;
      this.idle.set(key, e);
      return;
    }
    if (this.size >= this.maxEntries) {
      // Expired entries go first and count as expirations, so evictions only count live losses.
      this.sweep();
      if (this.size >= this.maxEntries) this.evictOldest();
    }
    this.idle.set(key, new IdleEntry(this.ref(member), now));
  }

  touch(key: string): void {
    const e = this.idle.get(key);
    if (e === undefined) return;
    const now = this.now();
    if (now - e.at >= this.ttlMs) return;
    this.idle.delete(key);
    e.at = now;
    this.idle.set(key, e);
  }

  delete(key: string): boolean {
    const e = this.idle.get(key) ?? this.held.get(key);
    if (e === undefined) return false;
    this.idle.delete(key);
    this.held.delete(key);
    this.unref(e.ref);
    return true;
  }

  hold(key: string): void {
    const held = this.held.get(key);
    if (held !== undefined) {
      held.holds++;
      return;
    }
    const e = this.idle.get(key);
    if (e === undefined) return;
    this.idle.delete(key);
    this.held.set(key, new HeldEntry(e.ref, 1));
  }

  release(key: string): void {
    const held = this.held.get(key);
    if (held === undefined) return;
    if (--held.holds > 0) return;
    this.held.delete(key);
    // Appending with `at = now` keeps the deadline order: every other idle entry was touched earlier.
    this.idle.set(key, new IdleEntry(held.ref, this.now()));
  }

  deleteMember(member: MemberId): number {
    const ref = this.members.get(member);
    if (ref === undefined) return 0;
    const removed = ref.count;
    // Deleting the current key while iterating a Map is well-defined in JavaScript.
    for (const [key, e] of this.idle) if (e.ref === ref) this.idle.delete(key);
    for (const [key, e] of this.held) if (e.ref === ref) this.held.delete(key);
    this.members.delete(member);
    return removed;
  }

  sweep(graceMs = 0): number {
    // Expired iff now - at >= ttl; the front has the smallest `at`, so stop at the first live one.
    const limit = this.now() - this.ttlMs - graceMs;
    let removed = 0;
    for (const [key, e] of this.idle) {
      if (e.at > limit) break;
      this.idle.delete(key);
      this.unref(e.ref);
      removed++;
    }
    this.expirations += removed;
    return removed;
  }

  *entries(): IterableIterator<BindingEntry> {
    const now = this.now();
    for (const [key, e] of this.held) yield { key, member: e.ref.id, idleMs: 0, holds: e.holds };
    for (const [key, e] of this.idle) {
      const idleMs = now - e.at;
      if (idleMs < this.ttlMs) yield { key, member: e.ref.id, idleMs, holds: 0 };
    }
  }

  bindingsOf(member: MemberId): number {
    return this.members.get(member)?.count ?? 0;
  }

  private now(): number {
    const t = this.clock.now() - this.epoch;
    if (t > this.last) this.last = t;
    return this.last;
  }

  private ref(member: MemberId): MemberRef {
    let ref = this.members.get(member);
    if (ref === undefined) {
      ref = new MemberRef(member);
      this.members.set(member, ref);
    }
    ref.count++;
    return ref;
  }

  private unref(ref: MemberRef): void {
    if (--ref.count === 0 && this.members.get(ref.id) === ref) this.members.delete(ref.id);
  }

  /** The least recently used idle entry; only when every entry is held, the longest-held one. */
  private evictOldest(): void {
    const from = this.idle.size > 0 ? this.idle : this.held;
    const first = from.entries().next();
    if (first.done === true) return;
    const [key, e] = first.value;
    from.delete(key);
    this.unref(e.ref);
    this.evictions++;
    this.onEvict?.(key, e.ref.id);
  }
}
