/**
 * The shared binding store against a real 3-master Redis Cluster created by the test
 * (`redis-server --cluster-enabled yes` ×3, `redis-cli --cluster create`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import { refreshTiming } from "../../../src/store/recent-refreshes.js";
import { bindingKey, storedClientKey } from "../../../src/store/stored-key.js";
import { type RedisCluster, startRedisCluster } from "../../support/redis.js";
import { eventually, openReplica, type TestReplica, waitUp } from "../../support/store-harness.js";

const A = "web/127.0.1.1:80";
const B = "web/127.0.1.2:80";
const pool = { ttlMs: 60_000, maxEntries: 10_000, kind: "APP_COOKIE" as const };

let cluster: RedisCluster;
const opened: TestReplica[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  for (const r of opened) await r.store.close();
  await cluster?.stop();
});

describe("shared bindings on a Redis Cluster", () => {
  it("bindings spread over the masters, are seen by another replica, and rebinds invalidate", async () => {
    const r1 = openReplica(cluster.url);
    const r2 = openReplica(cluster.url);
    opened.push(r1, r2);
    await Promise.all([waitUp(r1), waitUp(r2)]);
    const p1 = r1.store.bindings.pool("web", pool);
    const p2 = r2.store.bindings.pool("web", pool);
    for (let i = 0; i < 60; i++) p1.bind(`session-${i}`, A);
    await r1.store.bindings.settle();
    expect(r1.store.metrics.operations("bind", "ok")).toBe(60);
    // Every master holds some of them: keys are not piled on one slot.
    const sizes = await Promise.all(cluster.nodes.map(async (n) => Number(await n.cli("DBSIZE"))));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
    for (const size of sizes) expect(size).toBeGreaterThan(0);

    const found = await Promise.all(Array.from({ length: 60 }, (_, i) => p2.lookupShared(`session-${i}`)));
    expect(found.every((m) => m === A)).toBe(true);

    for (let i = 0; i < 10; i++) p1.bind(`session-${i}`, B);
    await r1.store.bindings.settle();
    await eventually("replica 2 follows the rebinds published in the cluster", () =>
      Array.from({ length: 10 }, (_, i) => p2.peek(`session-${i}`)?.member).every((m) => m === B),
    );
    expect(p2.peek("session-10")?.member).toBe(A);

    const k1 = await r1.store.cookieKey(Buffer.alloc(32, "x"));
    const k2 = await r2.store.cookieKey(Buffer.alloc(32, "y"));
    expect(k2.current.equals(k1.current)).toBe(true);
  });

  it("keys in use on every master are refreshed once per period (one PEXPIRE each), and a lost one is written back", async () => {
    const r = openReplica(cluster.url);
    opened.push(r);
    await waitUp(r);
    const clock = new ManualClock(9_000_000);
    const p = r.store.bindings.pool("refresh", { ...pool, clock });
    const { refreshPeriodMs } = refreshTiming(pool.ttlMs, 100);
    for (let i = 0; i < 60; i++) p.bind(`s-${i}`, A);
    await r.store.bindings.settle();
    const key = (i: number) => bindingKey("t:", "refresh", storedClientKey("APP_COOKIE", `s-${i}`));
    const nodeOf = async (i: number) => {
      for (const n of cluster.nodes) if ((await n.cli("EXISTS", key(i))) === "1") return n;
      throw new Error(`no node holds ${key(i)}`);
    };
    // One key removed behind the replica's back (an eviction): the refresh writes it back.
    await (await nodeOf(7)).cli("DEL", key(7));
    for (let half = 0; half < 2; half++) {
      clock.advance(refreshPeriodMs / 2);
      await new Promise((x) => setTimeout(x, 250));
    }
    for (let i = 0; i < 60; i++) p.get(`s-${i}`);
    await eventually("every key refreshed", () => r.store.metrics.operations("touch", "ok") === 60);
    await eventually(
      "the lost key is written back",
      async () => (await nodeOf(7).catch(() => undefined)) !== undefined,
    );
    const pttl = Number(await (await nodeOf(3)).cli("PTTL", key(3)));
    expect(pttl).toBeGreaterThan(pool.ttlMs);
    expect(r.store.metrics.operations("touch", "error")).toBe(0);
  });
});
