/**
 * New placements and learnt bindings against a real redis-server: a claim stores this replica's
 * member in one round trip unless another replica bound the key first, and a learnt binding can be
 * waited for until the store acknowledged it (docs/shared-state.md, "Consistency").
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import { refreshTiming } from "../../../src/store/recent-refreshes.js";
import { startSilentServer, startSlowProxy } from "../../support/redis.js";
import { eventually, replicasOnOneRedis, waitUp } from "../../support/store-harness.js";

const A = "web/127.0.1.1:80";
const B = "web/127.0.1.2:80";
const C = "web/127.0.1.3:80";
const ipPool = { ttlMs: 60_000, maxEntries: 10_000, kind: "SOURCE_IP" as const };
const cookiePool = { ttlMs: 60_000, maxEntries: 10_000, kind: "APP_COOKIE" as const };

const fixture = replicasOnOneRedis();
const replica = (url?: string, extra = {}) => fixture.replica(url, extra);

describe("claims of new placements", () => {
  it("the first claim is stored (with the pool's TTL) before it resolves; a later claim gets the first member", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const p2 = r2.store.bindings.pool("web", ipPool);
    expect(await p1.claimShared("10.7.0.1", A)).toBe(A);
    // In the store as the claim resolves: no write-behind left.
    expect(await fixture.redis.cli("GET", "t:binding:web:10.7.0.1")).toBe("127.0.1.1:80");
    const ttl = Number(await fixture.redis.cli("PTTL", "t:binding:web:10.7.0.1"));
    expect(ttl).toBeGreaterThan(50_000);
    expect(r1.store.bindings.pendingWrites).toBe(0);
    // Another replica proposing B for the same client gets A, cached locally.
    expect(await p2.claimShared("10.7.0.1", B)).toBe(A);
    expect(p2.peek("10.7.0.1")).toEqual({ member: A, expired: false });
    expect(await fixture.redis.cli("GET", "t:binding:web:10.7.0.1")).toBe("127.0.1.1:80");
    expect(r1.store.metrics.operations("claim", "ok")).toBe(1);
    expect(r1.store.metrics.operations("get", "ok")).toBe(0);
  });

  it("a claim sets the TTL itself: traffic within the refresh period costs no store command; after it, one refresh", async () => {
    const r = replica();
    await waitUp(r);
    const clock = new ManualClock(1_000_000);
    const p = r.store.bindings.pool("web", { ...ipPool, clock });
    const { refreshPeriodMs } = refreshTiming(ipPool.ttlMs, 100);
    const touches = () => r.store.metrics.operations("touch", "ok");
    expect(await p.claimShared("10.7.1.1", A)).toBe(A);
    // What the placement front does next: bind the same member (no write), a request's traffic.
    p.bind("10.7.1.1", A);
    p.get("10.7.1.1");
    // Several flushes (every 100 ms here) pass without a PEXPIRE for it, over most of the period.
    for (let i = 0; i < 4; i++) {
      clock.advance(refreshPeriodMs / 8);
      p.get("10.7.1.1");
      await new Promise((x) => setTimeout(x, 150));
    }
    expect(touches()).toBe(0);
    // Once a whole period has passed, traffic is refreshed again: once, however many requests.
    clock.advance(refreshPeriodMs);
    await new Promise((x) => setTimeout(x, 250));
    for (let i = 0; i < 50; i++) p.get("10.7.1.1");
    for (let t = 0; t < 200 && touches() === 0; t++) await new Promise((x) => setTimeout(x, 25));
    await new Promise((x) => setTimeout(x, 300));
    expect(touches()).toBe(1);
    const pttl = Number(await fixture.redis.cli("PTTL", "t:binding:web:10.7.1.1"));
    expect(pttl).toBeGreaterThan(ipPool.ttlMs);
    expect(pttl).toBeLessThanOrEqual(ipPool.ttlMs + refreshPeriodMs);
  });

  it("a move off a failed member: the first replica's move wins in the store, the second follows it, a third is told", async () => {
    const [r1, r2, r3] = [replica(), replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2), waitUp(r3)]);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const p2 = r2.store.bindings.pool("web", ipPool);
    const p3 = r3.store.bindings.pool("web", ipPool);
    expect(await p1.claimShared("10.7.3.1", A)).toBe(A);
    expect(await p2.lookupShared("10.7.3.1")).toBe(A);
    expect(await p3.lookupShared("10.7.3.1")).toBe(A);
    // A fails; replica 1 moves the client to B first, replica 2 (its own pick: C) follows B.
    expect(await p1.rebindShared("10.7.3.1", A, B)).toBe(B);
    expect(await fixture.redis.cli("GET", "t:binding:web:10.7.3.1")).toBe("127.0.1.2:80");
    expect(await p2.rebindShared("10.7.3.1", A, C)).toBe(B);
    expect(p2.peek("10.7.3.1")).toEqual({ member: B, expired: false });
    expect(await fixture.redis.cli("GET", "t:binding:web:10.7.3.1")).toBe("127.0.1.2:80");
    // Replica 3 asked nothing: the move's invalidation replaced its cached A.
    await eventually("replica 3 follows the move", () => p3.peek("10.7.3.1")?.member === B);
    // Moving again from the member the store holds writes (B fails in turn).
    expect(await p2.rebindShared("10.7.3.1", B, C)).toBe(C);
    expect(await fixture.redis.cli("GET", "t:binding:web:10.7.3.1")).toBe("127.0.1.3:80");
  });

  it("two replicas claiming one new client at the same moment converge on one member", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const p2 = r2.store.bindings.pool("web", ipPool);
    for (let i = 0; i < 200; i++) {
      const key = `10.8.${i >> 8}.${i & 255}`;
      const [m1, m2] = await Promise.all([p1.claimShared(key, A), p2.claimShared(key, B)]);
      expect(m1).toBeDefined();
      expect(m1).toBe(m2);
      expect(p1.peek(key)?.member).toBe(m1);
      expect(p2.peek(key)?.member).toBe(m1);
    }
  });

  it("an APP_COOKIE claim is stored under the value's hash, never the value", async () => {
    const r = replica();
    await waitUp(r);
    const p = r.store.bindings.pool("web", cookiePool);
    expect(await p.claimShared("secret-session", B)).toBe(B);
    const keys = await fixture.redis.cli("KEYS", "*");
    expect(keys).not.toContain("secret-session");
    expect(keys).toContain(`t:binding:web:${p.storedKey("secret-session")}`);
  });

  it("a store that is down, or never answers: no claim is sent and nothing waits", async () => {
    const silent = await startSilentServer();
    try {
      const r = replica(`redis://127.0.0.1:${silent.port}`);
      const p = r.store.bindings.pool("web", ipPool);
      expect(p.claimShared("10.9.0.1", A)).toBeUndefined();
      expect(r.store.metrics.operations("claim", "skipped")).toBe(1);
      p.bind("10.9.0.1", A);
      expect(p.bindAcknowledged("10.9.0.2", A)).toBeUndefined();
      expect(r.store.bindings.pendingWrites).toBe(2);
    } finally {
      await silent.close();
    }
  });

  it("a slow store: a claim gives up after the budget; the write-back then follows the store", async () => {
    const slow = await startSlowProxy(fixture.redis.port, 1500);
    try {
      const direct = replica();
      const r = replica(`redis://127.0.0.1:${slow.port}`, { connectTimeoutMs: 15_000, lookupBudgetMs: 50 });
      await Promise.all([waitUp(direct), waitUp(r)]);
      expect(await direct.store.bindings.pool("web", ipPool).claimShared("10.9.1.1", A)).toBe(A);
      const p = r.store.bindings.pool("web", ipPool);
      const started = performance.now();
      expect(await p.claimShared("10.9.1.1", B)).toBeUndefined();
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(45);
      expect(waited).toBeLessThan(1400);
      expect(r.store.metrics.operations("claim", "timeout")).toBe(1);
      // Placed locally on B (the caller binds), the compare-and-set finds A: followed.
      p.bind("10.9.1.1", B);
      for (let t = 0; t < 400 && p.peek("10.9.1.1")?.member !== A; t++)
        await new Promise((x) => setTimeout(x, 25));
      expect(p.peek("10.9.1.1")?.member).toBe(A);
      expect(await fixture.redis.cli("GET", "t:binding:web:10.9.1.1")).toBe("127.0.1.1:80");
    } finally {
      await slow.close();
    }
  });
});

describe("acknowledged binds (a response held until the store has its binding)", () => {
  it("resolves once the binding is in the store; nothing to wait for when it does not change", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", cookiePool);
    const acked = p1.bindAcknowledged("JS-1", A);
    expect(acked).toBeInstanceOf(Promise);
    await acked;
    expect(await fixture.redis.cli("GET", `t:binding:web:${p1.storedKey("JS-1")}`)).toBe("127.0.1.1:80");
    // The other replica finds it at once.
    expect(await r2.store.bindings.pool("web", cookiePool).lookupShared("JS-1")).toBe(A);
    // The same binding again (a member re-sending its cookie): no write, no wait.
    expect(p1.bindAcknowledged("JS-1", A)).toBeUndefined();
    // A change waits again, and other replicas' copies are replaced.
    await p1.bindAcknowledged("JS-1", B);
    expect(await fixture.redis.cli("GET", `t:binding:web:${p1.storedKey("JS-1")}`)).toBe("127.0.1.2:80");
  });

  it("a slow store: the wait ends at the budget, and the write still lands", async () => {
    const slow = await startSlowProxy(fixture.redis.port, 1500);
    try {
      const r = replica(`redis://127.0.0.1:${slow.port}`, { connectTimeoutMs: 15_000, lookupBudgetMs: 50 });
      await waitUp(r);
      const p = r.store.bindings.pool("web", cookiePool);
      const started = performance.now();
      await p.bindAcknowledged("JS-slow", A);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(45);
      expect(waited).toBeLessThan(1400);
      await r.store.bindings.settle();
      expect(await fixture.redis.cli("GET", `t:binding:web:${p.storedKey("JS-slow")}`)).toBe("127.0.1.1:80");
    } finally {
      await slow.close();
    }
  });
});
