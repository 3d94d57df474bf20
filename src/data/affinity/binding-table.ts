/**
 * Binding tables: the bounded, expiring memory of "this client key goes to that member" used by
 * SOURCE_IP persistence (key = client IP) and APP_COOKIE (key = the application's cookie value).
 *
 * Modelled on HAProxy stick tables (docs/architecture.md): a maximum size with oldest-first eviction, and
 * expiry through a deadline-ordered index instead of a scan. The index is nearly free: every entry
 * of one table has the same idle timeout, so ordering entries by their last touch *is* ordering
 * them by deadline. A touch moves the entry to the tail of a list (`DeadlineList`,
 * data/deadline-list.ts); the head is then both the least recently used entry (the one to evict)
 * and the earliest deadline (the one to expire), and `sweep()` pops from the head while the head
 * has expired: O(expired), not O(size).
 *
 * Why an intrusive doubly linked list and not the `Map`'s own insertion order (touch = delete +
 * set): V8's ordered hash table leaves a hole for every delete until it next rehashes, and a new
 * iterator skips the holes one by one, so finding the oldest entry after k evictions costs O(k).
 * At a full 1,000,000-entry table that measured ~18 µs per bind (quadratic between rehashes)
 * against well under 1 µs here; the two links cost 16 bytes per entry (docs/affinity.md).
 *
 * Keys with open connections (`hold`) must not expire (an open connection counts as traffic until
 * it closes, docs/affinity.md). They leave the deadline order for a second list, through the same
 * links, and come back, with a fresh idle timer, on their last `release`: one entry object and one
 * `Map` slot per binding for its whole life, so a connection's hold and release allocate nothing.
 */
import { type Clock, systemClock } from "../../core/clock.js";
import type { MemberId } from "../../core/member.js";
import { DeadlineList } from "../deadline-list.js";

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
  /** One live entry without touching it (the admin API's explain: idle time, open connections). */
  entry?(key: string): BindingEntry | undefined;
  /** Stored entries bound to a member. */
  bindingsOf?(member: MemberId): number;
  /**
   * A store shared with other replicas (docs/shared-state.md): asks it for a key the local table
   * does not have. Undefined when no question is sent (store down, too many lookups waiting);
   * otherwise a promise that settles within the store's budget and never rejects (`undefined`:
   * no binding, an error or no answer in time). A member found is cached locally.
   */
  lookupShared?(key: string): Promise<MemberId | undefined> | undefined;
  /**
   * A store shared with other replicas: a new placement of `key` on `member`, claimed in one atomic
   * round trip — the store keeps `member` if it has no binding for the key and answers with the
   * member it holds (ours or another replica's), which is then cached locally. Undefined when no
   * question is sent; the promise settles within the store's budget, never rejects, and resolves
   * to `undefined` on an error or no answer in time (then place locally and `bind`).
   */
  claimShared?(key: string, member: MemberId): Promise<MemberId | undefined> | undefined;
  /**
   * A store shared with other replicas: `bind`, and when that changes the binding and the store
   * can be asked, a promise settled once the store acknowledged it or the store's budget passed
   * (never rejected). Undefined when there is nothing to wait for.
   */
  bindAcknowledged?(key: string, member: MemberId): Promise<void> | undefined;
  /**
   * A store shared with other replicas: the client bound to `from` must move to `to` (`from` may
   * not take it any more). Compare-and-set in the store at once: it writes `to` when the store
   * holds `from` or nothing, and answers with the member it holds afterwards — `to`, or the member
   * another replica moved the client to first (now cached here). Undefined when the store cannot
   * be asked now; the promise never rejects and resolves to `undefined` on an error or no answer
   * within the budget (then `bind`, which writes behind).
   */
  rebindShared?(key: string, from: MemberId, to: MemberId): Promise<MemberId | undefined> | undefined;
  /**
   * A shared store: removes the binding here, in the store and on every replica, and waits for
   * the store's answer (true when it existed here or there). Rejects when the store cannot be
   * asked; the binding is then removed here and the store's delete waits for the store's return.
   */
  deleteShared?(key: string): Promise<boolean>;
}

/**
 * What an in-process table removed, for `stickylb_binding_table_removals_total`: a {@link BindingTable}
 * itself, or a shared store's local cache (docs/shared-state.md).
 */
export interface TableRemovals {
  /** Entries removed idle past the persistence timeout. */
  readonly expirations: number;
  /** Live entries removed, the oldest first, to stay within the bound. */
  readonly evictions: number;
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

/**
 * A compact copy of a key that the table will keep. Keys are usually slices of bigger strings (a
 * cookie value out of the whole `Cookie` header, an address out of `::ffff:a.b.c.d`), and V8 keeps
 * a slice as a pointer into its parent, so storing the slice would keep the whole header alive:
 * measured at ~120 extra bytes per entry for a 32-character cookie in a short header, and the full
 * header size in general. The UTF-16 round trip is exact for every JavaScript string (lone
 * surrogates included) and yields a flat one-byte string when the key is Latin-1.
 */
function ownString(key: string): string {
  return Buffer.from(key, "utf16le").toString("utf16le");
}

/**
 * One binding. It sits in exactly one of the table's two lists, linked through `prev`/`next`: the
 * deadline order while idle, the held order while connections are open. `at` says which: the last
 * touch in ms since the table's epoch (>= 0) while idle; minus the number of open connections
 * while held (a held entry has no deadline). One object per binding for its whole life, so a
 * connection's hold and release allocate nothing and leave no hole in the lookup `Map`.
 */
class Entry {
  prev: Entry | null = null;
  next: Entry | null = null;
  constructor(
    readonly key: string,
    public ref: MemberRef,
    public at: number,
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
  private readonly entriesByKey = new Map<string, Entry>();
  /** Deadline order of idle entries: head = least recently touched = first to expire. */
  private readonly idle = new DeadlineList<Entry>();
  /** Held entries in the order they became held: head = held longest. */
  private readonly held = new DeadlineList<Entry>();
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
    return this.entriesByKey.size;
  }

  get(key: string): BindingLookup {
    const e = this.entriesByKey.get(key);
    if (e === undefined) return undefined;
    if (e.at < 0) return e.ref.hit;
    const now = this.now();
    if (now - e.at >= this.ttlMs) {
      this.remove(e);
      this.expirations++;
      return { member: e.ref.id, expired: true };
    }
    e.at = now;
    this.idle.moveToTail(e);
    return e.ref.hit;
  }

  peek(key: string): BindingLookup {
    const e = this.entriesByKey.get(key);
    if (e === undefined) return undefined;
    if (e.at < 0) return e.ref.hit;
    return this.now() - e.at >= this.ttlMs ? { member: e.ref.id, expired: true } : e.ref.hit;
  }

  bind(key: string, member: MemberId): void {
    const existing = this.entriesByKey.get(key);
    if (existing !== undefined) {
      // A rebind (redispatch). A held key stays held: its open connections still count.
      if (existing.ref.id !== member) {
        this.unref(existing.ref);
        existing.ref = this.ref(member);
      }
      if (existing.at >= 0) {
        existing.at = this.now();
        this.idle.moveToTail(existing);
      }
      return;
    }
    if (this.size >= this.maxEntries) {
      // Expired entries go first and count as expirations, so evictions only count live losses.
      this.sweep();
      if (this.size >= this.maxEntries) this.evictOldest();
    }
    const own = ownString(key);
    const e = new Entry(own, this.ref(member), this.now());
    this.entriesByKey.set(own, e);
    this.idle.append(e);
  }

  touch(key: string): void {
    const e = this.entriesByKey.get(key);
    if (e === undefined || e.at < 0) return;
    const now = this.now();
    if (now - e.at < this.ttlMs) {
      e.at = now;
      this.idle.moveToTail(e);
    }
  }

  delete(key: string): boolean {
    const e = this.entriesByKey.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  hold(key: string): void {
    const e = this.entriesByKey.get(key);
    if (e === undefined) return;
    if (e.at < 0) {
      e.at--;
      return;
    }
    this.idle.unlink(e);
    e.at = -1;
    this.held.append(e);
  }

  release(key: string): void {
    const e = this.entriesByKey.get(key);
    if (e === undefined || e.at >= 0 || ++e.at < 0) return;
    this.held.unlink(e);
    // Appending with `at = now` keeps the deadline order: every other idle entry was touched earlier.
    e.at = this.now();
    this.idle.append(e);
  }

  deleteMember(member: MemberId): number {
    const ref = this.members.get(member);
    if (ref === undefined) return 0;
    const removed = ref.count;
    // Deleting the current key while iterating a Map is well-defined in JavaScript.
    for (const e of this.entriesByKey.values()) if (e.ref === ref) this.remove(e);
    this.members.delete(member);
    return removed;
  }

  /** Removes entries idle for at least `ttlMs + graceMs`; see docs/affinity.md for the grace. */
  sweep(graceMs = 0): number {
    const limit = this.now() - this.ttlMs - graceMs;
    let removed = 0;
    while (this.idle.head !== null && this.idle.head.at <= limit) {
      this.remove(this.idle.head);
      removed++;
    }
    this.expirations += removed;
    return removed;
  }

  *entries(): IterableIterator<BindingEntry> {
    const now = this.now();
    for (let e = this.held.head; e !== null; e = e.next) {
      yield { key: e.key, member: e.ref.id, idleMs: 0, holds: -e.at };
    }
    for (let e = this.idle.head; e !== null; e = e.next) {
      const idleMs = now - e.at;
      if (idleMs < this.ttlMs) yield { key: e.key, member: e.ref.id, idleMs, holds: 0 };
    }
  }

  entry(key: string): BindingEntry | undefined {
    const e = this.entriesByKey.get(key);
    if (e === undefined) return undefined;
    if (e.at < 0) return { key, member: e.ref.id, idleMs: 0, holds: -e.at };
    const idleMs = this.now() - e.at;
    return idleMs < this.ttlMs ? { key, member: e.ref.id, idleMs, holds: 0 } : undefined;
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
    const e = this.idle.head ?? this.held.head;
    if (e === null) return;
    this.remove(e);
    this.evictions++;
    this.onEvict?.(e.key, e.ref.id);
  }

  /** Takes an entry out of the lookup map, its list and its member's count. */
  private remove(e: Entry): void {
    this.entriesByKey.delete(e.key);
    if (e.at < 0) this.held.unlink(e);
    else this.idle.unlink(e);
    this.unref(e.ref);
  }
}
