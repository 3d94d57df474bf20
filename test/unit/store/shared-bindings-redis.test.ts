/**
 * The shared binding store against a real redis-server: two or three "replicas" (stores in this
 * process, each with its own connections and local cache) sharing one Redis.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import { refreshTiming } from "../../../src/store/recent-refreshes.js";
import { bindingKey, storedClientKey } from "../../../src/store/stored-key.js";
import { startSilentServer, startSlowProxy } from "../../support/redis.js";
import { eventually, replicasOnOneRedis, sleep, waitUp } from "../../support/store-harness.js";

const A = "web/127.0.1.1:80";
const B = "web/127.0.1.2:80";
const C = "web/127.0.1.3:80";
const cookiePool = { ttlMs: 60_000, maxEntries: 10_000, kind: "APP_COOKIE" as const };
const ipPool = { ttlMs: 60_000, maxEntries: 10_000, kind: "SOURCE_IP" as const };

const fixture = replicasOnOneRedis();
const replica = (url?: string, extra = {}) => fixture.replica(url, extra);

describe("shared bindings with a real Redis", () => {
  it("a binding made on one replica is found by another on its next lookup; no cookie in clear", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", cookiePool);
    const p2 = r2.store.bindings.pool("web", cookiePool);
    p1.bind("session-abc", A);
    await r1.store.bindings.settle();
    const key = bindingKey("t:", "web", storedClientKey("APP_COOKIE", "session-abc"));
    expect(await fixture.redis.cli("GET", key)).toBe("127.0.1.1:80");
    expect(await fixture.redis.cli("KEYS", "*session-abc*")).toBe("");
    // The store's lifetime is persistenceTimeout plus one refresh period.
    const pttl = Number(await fixture.redis.cli("PTTL", key));
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000 + refreshTiming(60_000, 100).refreshPeriodMs);

    expect(p2.get("session-abc")).toBeUndefined();
    expect(await p2.lookupShared("session-abc")).toBe(A);
    // Now cached: the next request is answered without the store.
    const gets = r2.store.metrics.operations("get", "ok");
    expect(p2.get("session-abc")).toEqual({ member: A, expired: false });
    expect(r2.store.metrics.operations("get", "ok")).toBe(gets);
    // An unknown key is a miss, answered by the store.
    expect(await p2.lookupShared("nobody")).toBeUndefined();
  });

  it("lookup(): synchronous for a cached entry, a promise on a local miss, never a rejection", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", cookiePool);
    const p2 = r2.store.bindings.pool("web", cookiePool);
    p1.bind("s-42", B);
    await r1.store.bindings.settle();
    const cached = p1.lookup("s-42");
    expect(cached).toEqual({ member: B, expired: false });
    const miss = p2.lookup("s-42");
    expect(miss).toBeInstanceOf(Promise);
    expect(await miss).toEqual({ member: B, expired: false });
    expect(p2.lookup("s-42")).toEqual({ member: B, expired: false });
    expect(await p2.lookup("unknown")).toBeUndefined();
    // Store gone: the local answer, synchronously.
    await r2.store.connection.close();
    await eventually("down", () => !r2.store.connection.up);
    expect(p2.lookup("other")).toBeUndefined();
    expect(p2.lookup("s-42")).toEqual({ member: B, expired: false });
  });

  it("a rebind on one replica replaces the other replica's cached entry (invalidation)", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const p2 = r2.store.bindings.pool("web", ipPool);
    p1.bind("10.0.0.7", A);
    await r1.store.bindings.settle();
    expect(await p2.lookupShared("10.0.0.7")).toBe(A);
    // Member A failed as seen by replica 1: it places the client afresh on B.
    p1.bind("10.0.0.7", B);
    await r1.store.bindings.settle();
    expect(await fixture.redis.cli("GET", "t:binding:web:10.0.0.7")).toBe("127.0.1.2:80");
    await eventually("replica 2 follows the rebind", () => p2.peek("10.0.0.7")?.member === B);
    // Replica 2's later traffic and refreshes do not undo it.
    p2.get("10.0.0.7");
    await sleep(300);
    expect(await fixture.redis.cli("GET", "t:binding:web:10.0.0.7")).toBe("127.0.1.2:80");
    expect(r2.store.metrics.invalidationsApplied).toBeGreaterThanOrEqual(1);
  });

  it("a stale replica's rebind does not overwrite a newer binding: it adopts the store's", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const p2 = r2.store.bindings.pool("web", ipPool);
    p1.bind("10.0.0.8", A);
    await r1.store.bindings.settle();
    // Replica 2 never asked the store (say, it timed out) and placed the client on C itself.
    p2.bind("10.0.0.8", C);
    await r2.store.bindings.settle();
    expect(await fixture.redis.cli("GET", "t:binding:web:10.0.0.8")).toBe("127.0.1.1:80");
    expect(p2.peek("10.0.0.8")?.member).toBe(A);
  });

  it("DELETE removes a binding for every replica", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", cookiePool);
    const p2 = r2.store.bindings.pool("web", cookiePool);
    p1.bind("s1", A);
    await r1.store.bindings.settle();
    expect(await p2.lookupShared("s1")).toBe(A);
    expect(await p1.deleteShared("s1")).toBe(true);
    expect(p1.peek("s1")).toBeUndefined();
    await eventually("replica 2 drops its cached copy", () => p2.peek("s1") === undefined);
    expect(await p2.lookupShared("s1")).toBeUndefined();
    expect(await p1.deleteShared("s1")).toBe(false);
    // With the store unreachable: removed here at once, and queued for the store.
    p1.bind("s2", A);
    await r1.store.bindings.settle();
    await r1.store.connection.close();
    await eventually("down", () => !r1.store.connection.up);
    await expect(p1.deleteShared("s2")).rejects.toThrow();
    expect(p1.peek("s2")).toBeUndefined();
    expect(r1.store.bindings.pendingWrites).toBe(1);
  });

  it("idle lapse counts traffic on any replica; a held key never lapses; an idle one does", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const short = { ttlMs: 1500, maxEntries: 100, kind: "SOURCE_IP" as const };
    const p1 = r1.store.bindings.pool("web", short);
    const p2 = r2.store.bindings.pool("web", short);
    p1.bind("10.0.0.1", A);
    p1.bind("10.0.0.2", B);
    p1.hold("10.0.0.2");
    p1.bind("10.0.0.3", C);
    await r1.store.bindings.settle();
    expect(await p2.lookupShared("10.0.0.1")).toBe(A);
    // Traffic for 10.0.0.1 reaches replica 2 only, for twice the timeout.
    for (let i = 0; i < 12; i++) {
      expect(p2.get("10.0.0.1")?.member).toBe(A);
      await sleep(250);
    }
    // Replica 1 saw no traffic: its local entry lapsed, but the store still has the binding.
    expect(p1.get("10.0.0.1")).toEqual({ member: A, expired: true });
    expect(await p1.lookupShared("10.0.0.1")).toBe(A);
    // The held key (an open connection on replica 1) is alive in the store; the idle one is gone.
    expect(await fixture.redis.cli("GET", "t:binding:web:10.0.0.2")).toBe("127.0.1.2:80");
    expect(await fixture.redis.cli("EXISTS", "t:binding:web:10.0.0.3")).toBe("0");
    // With no traffic anywhere, 10.0.0.1 lapses in the store too.
    await eventually(
      "the idle binding lapses",
      async () => (await fixture.redis.cli("EXISTS", "t:binding:web:10.0.0.1")) === "0",
    );
  });

  it("Redis killed under load and restarted empty: local serving goes on, the bindings are written back", async () => {
    const r1 = replica(fixture.redis.url, { backoff: { minMs: 50, maxMs: 400 } });
    await waitUp(r1);
    const p1 = r1.store.bindings.pool("web", ipPool);
    const members = [A, B, C];
    const keyOf = (i: number) => `10.1.${i >> 8}.${i & 255}`;
    let served = 0;
    let bound = 0;
    let failures = 0;
    let stop = false;
    // Load: new clients are bound, returning clients are served from the local table.
    const load = (async () => {
      while (!stop) {
        for (let j = 0; j < 20; j++) {
          p1.bind(keyOf(bound), members[bound % 3] as string);
          bound++;
        }
        for (let i = 0; i < bound; i += 7) {
          if (p1.get(keyOf(i))?.member === members[i % 3]) served++;
          else failures++;
        }
        await sleep(10);
      }
    })();
    await sleep(300);
    await fixture.redis.stop("SIGKILL");
    await eventually("the replica sees the store down", () => !r1.store.connection.up);
    const boundAtKill = bound;
    await sleep(500);
    expect(bound).toBeGreaterThan(boundAtKill);
    await fixture.redis.restart();
    await eventually("the replica reconnects", () => r1.store.connection.up);
    await sleep(300);
    stop = true;
    await load;
    expect(failures).toBe(0);
    expect(served).toBeGreaterThan(0);
    await eventually(
      "every binding is back in the store",
      async () => Number(await fixture.redis.cli("DBSIZE")) === bound,
      20_000,
    );
    expect(await fixture.redis.cli("GET", `t:binding:web:${keyOf(bound - 1)}`)).toBe(
      (members[(bound - 1) % 3] as string).slice(4),
    );
    const downLines = r1.logs().filter((l) => String(l.msg).startsWith("state store down"));
    const upLines = r1.logs().filter((l) => l.msg === "state store up");
    expect(downLines).toHaveLength(1);
    expect(upLines).toHaveLength(2);
    expect(r1.store.metrics.up).toBe(1);
  });

  it("write-back after an outage keeps a binding another replica put in the store meanwhile", async () => {
    const r1 = replica(fixture.redis.url, { backoff: { minMs: 3000, maxMs: 3000 } });
    await waitUp(r1);
    const p1 = r1.store.bindings.pool("web", ipPool);
    await fixture.redis.stop("SIGKILL");
    await eventually("down", () => !r1.store.connection.up);
    p1.bind("10.2.0.1", A);
    p1.bind("10.2.0.2", A);
    expect(p1.get("10.2.0.1")?.member).toBe(A);
    expect(r1.store.bindings.pendingWrites).toBe(2);
    await fixture.redis.restart();
    // Another replica bound 10.2.0.1 to B before replica 1 is back (its backoff is ≥ 1.5 s).
    await fixture.redis.cli("SET", "t:binding:web:10.2.0.1", "127.0.1.2:80");
    await eventually("replica 1 reconnects", () => r1.store.connection.up, 15_000);
    await r1.store.bindings.settle();
    expect(await fixture.redis.cli("GET", "t:binding:web:10.2.0.1")).toBe("127.0.1.2:80");
    expect(await fixture.redis.cli("GET", "t:binding:web:10.2.0.2")).toBe("127.0.1.1:80");
    expect(p1.peek("10.2.0.1")?.member).toBe(B);
  });

  it("a store that accepts connections and never answers: no lookup waits, serving goes on", async () => {
    const silent = await startSilentServer();
    try {
      const r = replica(`redis://127.0.0.1:${silent.port}`, { connectTimeoutMs: 300 });
      const p = r.store.bindings.pool("web", ipPool);
      await sleep(200);
      expect(r.store.connection.up).toBe(false);
      const answer = p.lookupShared("10.3.0.1");
      // Not even a promise: the client is placed at once.
      expect(answer).toBeUndefined();
      p.bind("10.3.0.1", A);
      expect(p.get("10.3.0.1")?.member).toBe(A);
      expect(r.store.metrics.operations("get", "skipped")).toBe(1);
      expect(r.store.bindings.pendingWrites).toBe(1);
      // The never-answering connection is dropped and tried again, logged once.
      await eventually("the ready check gives up", () =>
        r.logs().some((l) => l.reason === "connected, but no answer to the ready check"),
      );
      await sleep(800);
      expect(r.logs().filter((l) => String(l.msg).startsWith("state store down"))).toHaveLength(1);
    } finally {
      await silent.close();
    }
  });

  it("a slow store: a lookup gives up after the budget, places locally, then follows the store", async () => {
    const slow = await startSlowProxy(fixture.redis.port, 1500);
    try {
      const direct = replica();
      // Connecting takes a few slow round trips (ready check): give it time, this is not what is measured.
      const r = replica(`redis://127.0.0.1:${slow.port}`, { connectTimeoutMs: 15_000, lookupBudgetMs: 50 });
      await Promise.all([waitUp(direct), waitUp(r)]);
      direct.store.bindings.pool("web", ipPool).bind("10.4.0.1", A);
      await direct.store.bindings.settle();
      const p = r.store.bindings.pool("web", ipPool);
      const started = performance.now();
      const answer = await p.lookupShared("10.4.0.1");
      const waited = performance.now() - started;
      expect(answer).toBeUndefined();
      // The store's answer takes ≥ 1.5 s; the lookup ended at its 50 ms budget, long before.
      expect(waited).toBeGreaterThanOrEqual(45);
      expect(waited).toBeLessThan(1400);
      expect(r.store.metrics.operations("get", "timeout")).toBe(1);
      // Placed locally on C; the write-back finds A in the store and this replica follows it.
      p.bind("10.4.0.1", C);
      await eventually("the slow replica adopts the store's binding", () => p.peek("10.4.0.1")?.member === A);
      expect(await fixture.redis.cli("GET", "t:binding:web:10.4.0.1")).toBe("127.0.1.1:80");
    } finally {
      await slow.close();
    }
  });

  it("too many lookups in flight: further misses are placed at once (bounded)", async () => {
    const slow = await startSlowProxy(fixture.redis.port, 300);
    try {
      const r = replica(`redis://127.0.0.1:${slow.port}`, {
        maxInFlightLookups: 2,
        connectTimeoutMs: 15_000,
      });
      await waitUp(r);
      const p = r.store.bindings.pool("web", ipPool);
      const a = p.lookupShared("1.1.1.1");
      const b = p.lookupShared("1.1.1.2");
      expect(a).toBeInstanceOf(Promise);
      expect(b).toBeInstanceOf(Promise);
      expect(p.lookupShared("1.1.1.3")).toBeUndefined();
      await Promise.all([a, b]);
    } finally {
      await slow.close();
    }
  });

  it("thousands of keys in use: each refreshed once per refresh period, not once per flush", async () => {
    const r = replica();
    await waitUp(r);
    const clock = new ManualClock(5_000_000);
    const p = r.store.bindings.pool("web", { ...ipPool, clock });
    const { refreshPeriodMs } = refreshTiming(ipPool.ttlMs, 100);
    const n = 3000;
    const ip = (i: number) => `10.9.${i >> 8}.${i & 255}`;
    for (let i = 0; i < n; i++) p.bind(ip(i), A);
    await r.store.bindings.settle();
    const touches = () => r.store.metrics.operations("touch", "ok");
    // Written with the store's TTL just now: traffic on them needs no refresh yet.
    for (let i = 0; i < n; i++) p.get(ip(i));
    await sleep(300);
    expect(touches()).toBe(0);
    // One key removed behind the replica's back (an eviction): the refresh writes it back.
    const lost = bindingKey("t:", "web", ip(5));
    await fixture.redis.cli("DEL", lost);
    // A period later, traffic on all of them: each refreshed once, in slices over the next flushes.
    // (Generations move on at flushes: two of them pass, each on a clock half a period later.)
    for (let half = 0; half < 2; half++) {
      clock.advance(refreshPeriodMs / 2);
      await sleep(250);
    }
    for (let i = 0; i < n; i++) p.get(ip(i));
    await eventually("every key refreshed", () => touches() === n);
    await eventually(
      "the lost key is written back",
      async () => (await fixture.redis.cli("GET", lost)) === "127.0.1.1:80",
    );
    // More traffic within the period adds nothing.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) p.get(ip(i));
      await sleep(150);
    }
    expect(touches()).toBe(n);
    expect(r.store.metrics.operations("touch", "error")).toBe(0);
  });

  it("the write-back queue is bounded: the oldest pending write is dropped and counted", async () => {
    const silent = await startSilentServer();
    try {
      const r = replica(`redis://127.0.0.1:${silent.port}`, { maxWriteBack: 3 });
      const p = r.store.bindings.pool("web", ipPool);
      for (let i = 0; i < 5; i++) p.bind(`10.5.0.${i}`, A);
      expect(r.store.bindings.pendingWrites).toBe(3);
      expect(r.store.metrics.writeBackDropped).toBe(2);
      // The local table keeps all of them.
      expect(p.size).toBe(5);
    } finally {
      await silent.close();
    }
  });
});

describe("shared HTTP_COOKIE key", () => {
  const key = (c: string) => Buffer.alloc(32, c);

  it("created once by the first replica, then used by every replica", async () => {
    const [r1, r2] = [replica(), replica()];
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const k1 = await r1.store.cookieKey(key("a"));
    const k2 = await r2.store.cookieKey(key("b"));
    expect(k1.shared).toBe(true);
    expect(k1.current.equals(key("a"))).toBe(true);
    expect(k2.current.equals(key("a"))).toBe(true);
  });

  it("store down at start: the state-folder key, then the store's key when it answers", async () => {
    const r = replica(fixture.redis.url, { backoff: { minMs: 3000, maxMs: 3000 } });
    await waitUp(r);
    await fixture.redis.stop("SIGKILL");
    await eventually("down", () => !r.store.connection.up);
    const k = await r.store.cookieKey(key("c"), 200);
    expect(k.shared).toBe(false);
    expect(k.current.equals(key("c"))).toBe(true);
    expect(r.logs().some((l) => String(l.msg).includes("HTTP_COOKIE uses the state-folder key"))).toBe(true);
    const changed = new Promise<Buffer>((resolve) => k.onChange(resolve));
    await fixture.redis.restart();
    await fixture.redis.cli("SET", "t:cookie-key", "d".repeat(32));
    expect((await changed).equals(key("d"))).toBe(true);
    expect(k.shared).toBe(true);
  });

  it("the wait for the store at start is measured on the injected clock", async () => {
    // A store that accepts connections and never answers: it never comes up.
    const silent = await startSilentServer();
    try {
      const clock = new ManualClock(1_000_000);
      const r = replica(`redis://127.0.0.1:${silent.port}`, { clock });
      let settled = false;
      const started = r.store.cookieKey(key("e"), 100).then((k) => {
        settled = true;
        return k;
      });
      // Far past 100 ms of real time, but the injected clock has not moved: still waiting.
      await sleep(400);
      expect(settled).toBe(false);
      clock.advance(100);
      const k = await started;
      expect(k.shared).toBe(false);
      expect(k.current.equals(key("e"))).toBe(true);
    } finally {
      await silent.close();
    }
  });
});
