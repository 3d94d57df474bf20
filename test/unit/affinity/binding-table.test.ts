/** BindingTable specifics beyond the shared conformance suite: counters, bounds, clock steps. */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import { BindingTable } from "../../../src/data/affinity/binding-table.js";

const A = "web/10.0.0.1:80";
const B = "web/10.0.0.2:80";

function table(ttlMs = 1000, maxEntries = 10) {
  const clock = new ManualClock(1_700_000_000_000);
  const evicted: [string, string][] = [];
  const t = new BindingTable({ ttlMs, maxEntries, clock, onEvict: (k, m) => evicted.push([k, m]) });
  return { t, clock, evicted };
}

describe("BindingTable", () => {
  it("refuses a non-positive ttl or bound", () => {
    expect(() => new BindingTable({ ttlMs: 0, maxEntries: 1 })).toThrow(RangeError);
    expect(() => new BindingTable({ ttlMs: 1, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new BindingTable({ ttlMs: 1, maxEntries: 1.5 })).toThrow(RangeError);
  });

  it("describes one entry without touching it: idle time, open connections, nothing once lapsed", () => {
    const { t, clock } = table(1000, 2);
    t.bind("a", A);
    t.bind("b", B);
    clock.advance(400);
    expect(t.entry("a")).toEqual({ key: "a", member: A, idleMs: 400, holds: 0 });
    // Not a touch: "a" still lapses ttl after its bind.
    clock.advance(400);
    expect(t.entry("a")?.idleMs).toBe(800);
    t.hold("b");
    expect(t.entry("b")).toEqual({ key: "b", member: B, idleMs: 0, holds: 1 });
    clock.advance(200);
    expect(t.entry("a")).toBeUndefined();
    expect(t.size).toBe(2);
    expect(t.entry("missing")).toBeUndefined();
  });

  it("counts evictions and reports key and member to onEvict; expiry is not eviction", () => {
    const { t, clock, evicted } = table(1000, 2);
    t.bind("a", A);
    t.bind("b", B);
    t.bind("c", A);
    expect(evicted).toEqual([["a", A]]);
    expect(t.evictions).toBe(1);
    clock.advance(1000);
    t.bind("d", B);
    expect(t.evictions).toBe(1);
    expect(t.expirations).toBe(2);
    expect(t.size).toBe(1);
  });

  it("evicts the longest-held key when every key is held", () => {
    const { t, evicted } = table(1000, 2);
    t.bind("a", A);
    t.bind("b", B);
    t.hold("b");
    t.hold("a");
    t.bind("c", A);
    expect(evicted).toEqual([["b", B]]);
    expect(t.size).toBe(2);
    t.release("b"); // the evicted key's connection closes: nothing to do
    expect(t.get("b")).toBeUndefined();
  });

  it("counts bindings per member, held ones included", () => {
    const { t } = table();
    t.bind("a", A);
    t.bind("b", A);
    t.bind("c", B);
    t.hold("b");
    expect(t.bindingsOf(A)).toBe(2);
    expect(t.bindingsOf(B)).toBe(1);
    t.bind("a", B);
    expect(t.bindingsOf(A)).toBe(1);
    expect(t.bindingsOf(B)).toBe(2);
    t.delete("b");
    expect(t.bindingsOf(A)).toBe(0);
    expect(t.bindingsOf("none")).toBe(0);
  });

  it("sweep removes exactly the expired prefix and stops at the first live entry", () => {
    const { t, clock } = table(1000, 1000);
    for (let i = 0; i < 100; i++) {
      t.bind(`k${i}`, i % 2 === 0 ? A : B);
      clock.advance(10);
    }
    // k0 was bound 1000 ms ago, k1 990 ms ago, ...
    expect(t.sweep()).toBe(1);
    clock.advance(245);
    expect(t.sweep()).toBe(24);
    expect(t.size).toBe(75);
    expect(t.peek("k24")).toBeUndefined();
    expect(t.peek("k25")?.expired).toBe(false);
    expect(t.expirations).toBe(25);
  });

  it("sweep with a grace keeps entries expired for less than the grace, still reported as expired", () => {
    const { t, clock } = table(1000);
    t.bind("a", A);
    clock.advance(1500);
    expect(t.sweep(1000)).toBe(0);
    expect(t.get("a")).toEqual({ member: A, expired: true });
    t.bind("b", A);
    clock.advance(2000);
    expect(t.sweep(1000)).toBe(1);
  });

  it("keeps its order when the clock steps back", () => {
    const { t, clock } = table(1000);
    t.bind("a", A);
    clock.advance(500);
    t.bind("b", B);
    clock.advance(-400);
    t.bind("c", A); // treated as bound at the latest time seen, not earlier than b
    clock.advance(1000); // 1100 ms after a, 600 after b
    expect(t.sweep()).toBe(1);
    expect(t.peek("c")?.expired).toBe(false);
    clock.advance(400);
    expect(t.sweep()).toBe(2);
  });

  it("lists entries with idle time and holds", () => {
    const { t, clock } = table(1000);
    t.bind("a", A);
    t.bind("h", B);
    t.hold("h");
    t.hold("h");
    clock.advance(250);
    expect([...t.entries()]).toEqual([
      { key: "h", member: B, idleMs: 0, holds: 2 },
      { key: "a", member: A, idleMs: 250, holds: 0 },
    ]);
  });

  it("returns the same hit object for every live lookup of a member (no allocation per get)", () => {
    const { t } = table();
    t.bind("a", A);
    t.bind("b", A);
    expect(t.get("a")).toBe(t.get("b"));
  });

  it("stays bounded and consistent over a long random run", () => {
    const { t, clock } = table(500, 64);
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const key = `k${rnd(200)}`;
      switch (rnd(6)) {
        case 0:
          t.bind(key, rnd(2) === 0 ? A : B);
          break;
        case 1:
          t.get(key);
          break;
        case 2:
          t.hold(key);
          break;
        case 3:
          t.release(key);
          break;
        case 4:
          clock.advance(rnd(50));
          break;
        default:
          t.sweep();
      }
      expect(t.size).toBeLessThanOrEqual(64);
    }
    expect(t.bindingsOf(A) + t.bindingsOf(B)).toBe(t.size);
    expect(t.deleteMember(A) + t.deleteMember(B)).toBeGreaterThanOrEqual(0);
    expect(t.size).toBe(0);
  });
});
