/**
 * One suite that every BindingStore implementation passes (docs/architecture.md, after Hono's shared
 * adapter tests). Add a store by adding a factory to `stores`; a case it cannot honour must be
 * skipped with the reason written next to it.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.js";
import type { BindingLookup, BindingStore } from "../../src/data/affinity/binding-table.js";
import { BindingTable } from "../../src/data/affinity/binding-table.js";
import type { StateStore } from "../../src/store/state-store.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { openReplica, waitUp } from "../support/store-harness.js";

interface StoreOptions {
  ttlMs: number;
  maxEntries: number;
  clock: ManualClock;
  onEvict?: (key: string, member: string) => void;
}

interface StoreFactory {
  name: string;
  make(options: StoreOptions): BindingStore;
}

/**
 * The shared store's pools run against a real redis-server: their synchronous side is the local
 * cache, and every change also goes to the store in the background (it must not disturb them).
 * Keys here are SOURCE_IP keys, stored as given, so `entries()` shows them unchanged.
 */
let redis: RedisServer | undefined;
let shared: StateStore | undefined;
let sharedPools = 0;
beforeAll(async () => {
  redis = await startRedis();
  const replica = openReplica(redis.url);
  await waitUp(replica);
  shared = replica.store;
});
afterAll(async () => {
  await shared?.close();
  await redis?.stop();
});

const stores: StoreFactory[] = [
  { name: "BindingTable", make: (o) => new BindingTable(o) },
  {
    name: "SharedPoolBindings (real Redis)",
    make: (o) => {
      if (shared === undefined) throw new Error("the Redis of the conformance suite did not start");
      return shared.bindings.pool(`conformance-${sharedPools++}`, {
        ttlMs: o.ttlMs,
        maxEntries: o.maxEntries,
        kind: "SOURCE_IP",
        clock: o.clock,
        ...(o.onEvict === undefined ? {} : { onEvict: o.onEvict }),
      });
    },
  },
];

const A = "web/10.0.0.1:80";
const B = "web/10.0.0.2:80";
const C = "web/10.0.0.3:80";

/** The reference model: obviously correct, O(n) everywhere. */
class ModelStore {
  private readonly entries = new Map<string, { member: string; at: number; seq: number; holds: number }>();
  private seq = 0;
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: ManualClock,
  ) {}
  get size(): number {
    return this.entries.size;
  }
  private expired(e: { at: number; holds: number }): boolean {
    return e.holds === 0 && this.clock.now() - e.at >= this.ttlMs;
  }
  get(key: string): BindingLookup {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (this.expired(e)) {
      this.entries.delete(key);
      return { member: e.member, expired: true };
    }
    if (e.holds === 0) Object.assign(e, { at: this.clock.now(), seq: ++this.seq });
    return { member: e.member, expired: false };
  }
  peek(key: string): BindingLookup {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    return { member: e.member, expired: this.expired(e) } as BindingLookup;
  }
  bind(key: string, member: string): void {
    const e = this.entries.get(key);
    if (e !== undefined) {
      e.member = member;
      if (e.holds === 0) Object.assign(e, { at: this.clock.now(), seq: ++this.seq });
      return;
    }
    if (this.entries.size >= this.maxEntries) {
      this.sweep();
      if (this.entries.size >= this.maxEntries) {
        // Oldest idle entry (by last touch); if all are held, the one held longest.
        let victim: string | undefined;
        let best = Number.POSITIVE_INFINITY;
        for (const [k, v] of this.entries) if (v.holds === 0 && v.seq < best) [victim, best] = [k, v.seq];
        if (victim === undefined) {
          for (const [k, v] of this.entries) if (v.seq < best) [victim, best] = [k, v.seq];
        }
        this.entries.delete(victim!);
      }
    }
    this.entries.set(key, { member, at: this.clock.now(), seq: ++this.seq, holds: 0 });
  }
  touch(key: string): void {
    const e = this.entries.get(key);
    if (e !== undefined && e.holds === 0 && !this.expired(e)) {
      Object.assign(e, { at: this.clock.now(), seq: ++this.seq });
    }
  }
  delete(key: string): boolean {
    return this.entries.delete(key);
  }
  hold(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    // Becoming held restarts the held order (seq), which is what eviction of held entries uses.
    if (e.holds++ === 0) e.seq = ++this.seq;
  }
  release(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined || e.holds === 0) return;
    if (--e.holds === 0) Object.assign(e, { at: this.clock.now(), seq: ++this.seq });
  }
  deleteMember(member: string): number {
    let n = 0;
    for (const [k, v] of this.entries) if (v.member === member && this.entries.delete(k)) n++;
    return n;
  }
  sweep(): number {
    let n = 0;
    for (const [k, v] of this.entries) if (this.expired(v) && this.entries.delete(k)) n++;
    return n;
  }
}

describe.each(stores)("BindingStore conformance: $name", ({ make }) => {
  function setup(ttlMs = 1000, maxEntries = 100) {
    const clock = new ManualClock(1_700_000_000_000);
    const evicted: string[] = [];
    const store = make({ ttlMs, maxEntries, clock, onEvict: (key) => evicted.push(key) });
    return { clock, store, evicted };
  }

  it("binds and gets a key", () => {
    const { store } = setup();
    expect(store.get("k")).toBeUndefined();
    store.bind("k", A);
    expect(store.get("k")).toEqual({ member: A, expired: false });
    expect(store.size).toBe(1);
  });

  it("rebinding a key replaces its member without growing", () => {
    const { store } = setup();
    store.bind("k", A);
    store.bind("k", B);
    expect(store.get("k")).toEqual({ member: B, expired: false });
    expect(store.size).toBe(1);
  });

  it("reports an expired entry once as expired, then as missing", () => {
    const { store, clock } = setup(1000);
    store.bind("k", A);
    clock.advance(999);
    expect(store.peek("k")).toEqual({ member: A, expired: false });
    clock.advance(1);
    expect(store.get("k")).toEqual({ member: A, expired: true });
    expect(store.get("k")).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("touch and get extend the life from the last traffic", () => {
    const { store, clock } = setup(1000);
    store.bind("t", A);
    store.bind("g", A);
    clock.advance(800);
    store.touch("t");
    store.get("g");
    clock.advance(800);
    expect(store.get("t")).toEqual({ member: A, expired: false });
    expect(store.get("g")).toEqual({ member: A, expired: false });
    clock.advance(1000);
    expect(store.get("t")?.expired).toBe(true);
    expect(store.get("g")?.expired).toBe(true);
  });

  it("peek neither touches nor removes", () => {
    const { store, clock } = setup(1000);
    store.bind("k", A);
    clock.advance(600);
    store.peek("k");
    clock.advance(600);
    expect(store.peek("k")).toEqual({ member: A, expired: true });
    expect(store.size).toBe(1);
    expect(store.get("k")).toEqual({ member: A, expired: true });
  });

  it("touch does not revive an expired entry", () => {
    const { store, clock } = setup(1000);
    store.bind("k", A);
    clock.advance(1000);
    store.touch("k");
    expect(store.get("k")?.expired).toBe(true);
  });

  it("evicts the least recently used entry at the bound", () => {
    const { store, clock, evicted } = setup(10_000, 3);
    store.bind("a", A);
    clock.advance(1);
    store.bind("b", B);
    clock.advance(1);
    store.bind("c", C);
    clock.advance(1);
    store.get("a"); // a is now the most recent; b the oldest
    store.bind("d", A);
    expect(evicted).toEqual(["b"]);
    expect(store.size).toBe(3);
    expect(store.get("b")).toBeUndefined();
    expect(store.get("a")?.member).toBe(A);
  });

  it("drops expired entries before evicting a live one at the bound", () => {
    const { store, clock, evicted } = setup(1000, 2);
    store.bind("old", A);
    clock.advance(1000);
    store.bind("live", B);
    store.bind("new", C);
    expect(evicted).toEqual([]);
    expect(store.get("old")).toBeUndefined();
    expect(store.size).toBe(2);
  });

  it("a held key never expires; the last release restarts its idle timer", () => {
    const { store, clock } = setup(1000);
    store.bind("k", A);
    store.hold("k");
    store.hold("k");
    clock.advance(5000);
    expect(store.sweep()).toBe(0);
    expect(store.get("k")).toEqual({ member: A, expired: false });
    store.release("k");
    clock.advance(5000);
    expect(store.peek("k")).toEqual({ member: A, expired: false });
    store.release("k");
    clock.advance(999);
    expect(store.sweep()).toBe(0);
    expect(store.peek("k")?.expired).toBe(false);
    clock.advance(1);
    expect(store.get("k")).toEqual({ member: A, expired: true });
  });

  it("a rebind while held keeps the key held", () => {
    const { store, clock } = setup(1000);
    store.bind("k", A);
    store.hold("k");
    store.bind("k", B);
    clock.advance(5000);
    expect(store.get("k")).toEqual({ member: B, expired: false });
    store.release("k");
    clock.advance(1000);
    expect(store.get("k")).toEqual({ member: B, expired: true });
  });

  it("hold and release of an unknown key do nothing", () => {
    const { store } = setup();
    store.hold("x");
    store.release("x");
    store.release("x");
    expect(store.size).toBe(0);
    expect(store.get("x")).toBeUndefined();
  });

  it("deletes a key, held or not", () => {
    const { store } = setup();
    store.bind("a", A);
    store.bind("b", A);
    store.hold("b");
    expect(store.delete("a")).toBe(true);
    expect(store.delete("b")).toBe(true);
    expect(store.delete("b")).toBe(false);
    store.release("b");
    expect(store.size).toBe(0);
  });

  it("deleteMember removes every key bound to that member", () => {
    const { store } = setup();
    for (let i = 0; i < 10; i++) store.bind(`k${i}`, i % 3 === 0 ? A : B);
    store.hold("k3");
    expect(store.deleteMember(A)).toBe(4);
    expect(store.deleteMember(A)).toBe(0);
    expect(store.size).toBe(6);
    expect(store.get("k0")).toBeUndefined();
    expect(store.get("k3")).toBeUndefined();
    expect(store.get("k1")?.member).toBe(B);
  });

  it("sweep removes only the expired entries", () => {
    const { store, clock } = setup(1000);
    store.bind("a", A);
    clock.advance(500);
    store.bind("b", B);
    store.bind("h", C);
    store.hold("h");
    clock.advance(500);
    expect(store.sweep()).toBe(1);
    expect(store.peek("a")).toBeUndefined();
    expect(store.peek("b")?.member).toBe(B);
    clock.advance(10_000);
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(1);
    expect(store.get("h")?.member).toBe(C);
  });

  it("entries lists live bindings with their idle time", () => {
    const { store, clock } = setup(1000);
    if (store.entries === undefined) return; // optional for stores that cannot enumerate
    store.bind("a", A);
    clock.advance(300);
    store.bind("b", B);
    store.hold("b");
    clock.advance(200);
    store.bind("c", C);
    clock.advance(600);
    const rows = [...store.entries()].map((e) => [e.key, e.member, e.idleMs]);
    expect(rows).toEqual(
      expect.arrayContaining([
        ["b", B, 0],
        ["c", C, 600],
      ]),
    );
    expect(rows).toHaveLength(2);
  });

  it("matches a reference model under random operations, never exceeding its bound", () => {
    const key = fc.constantFrom("k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
    const member = fc.constantFrom(A, B, C);
    const op = fc.oneof(
      fc.tuple(fc.constant("get" as const), key),
      fc.tuple(fc.constant("peek" as const), key),
      fc.tuple(fc.constant("bind" as const), key, member),
      fc.tuple(fc.constant("touch" as const), key),
      fc.tuple(fc.constant("delete" as const), key),
      fc.tuple(fc.constant("hold" as const), key),
      fc.tuple(fc.constant("release" as const), key),
      fc.tuple(fc.constant("deleteMember" as const), member),
      fc.tuple(fc.constant("sweep" as const)),
      fc.tuple(fc.constant("advance" as const), fc.integer({ min: 0, max: 700 })),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(op, { maxLength: 150, size: "max" }),
        (bound, ops) => {
          const clock = new ManualClock(1_000_000);
          const ttlMs = 1000;
          const store = make({ ttlMs, maxEntries: bound, clock });
          const model = new ModelStore(ttlMs, bound, clock);
          for (const o of ops) {
            switch (o[0]) {
              case "advance":
                clock.advance(o[1]);
                break;
              case "bind":
                store.bind(o[1], o[2]);
                model.bind(o[1], o[2]);
                break;
              case "deleteMember":
                expect(store.deleteMember(o[1])).toBe(model.deleteMember(o[1]));
                break;
              case "sweep":
                expect(store.sweep()).toBe(model.sweep());
                break;
              case "get":
              case "peek":
                expect(store[o[0]](o[1])).toEqual(model[o[0]](o[1]));
                break;
              case "delete":
                expect(store.delete(o[1])).toBe(model.delete(o[1]));
                break;
              default:
                store[o[0]](o[1]);
                model[o[0]](o[1]);
            }
            expect(store.size).toBe(model.size);
            expect(store.size).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
