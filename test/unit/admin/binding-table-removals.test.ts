/**
 * What an in-process binding table removes is counted and exported:
 * `stickylb_binding_table_removals_total{pool,reason}` with `expired` (idle past the persistence
 * timeout, on the injected clock) and `evicted` (the oldest entry, at `maxBindings`) — the local
 * cache of a pool whose bindings live in a shared store (a real redis-server) included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimeAdminSource } from "../../../src/admin/admin-source.js";
import { createMetricsRegistry } from "../../../src/admin/metrics.js";
import { ManualClock } from "../../../src/core/clock.js";
import type { PoolModel } from "../../../src/core/model.js";
import { Runtime } from "../../../src/runtime/runtime.js";
import { placeL4 } from "../../support/placement.js";
import { type RedisServer, startRedis } from "../../support/redis.js";
import { memoryLogger, pool, runtimeWith } from "./support.js";

function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function withMaxBindings(model: PoolModel, maxBindings: number): PoolModel {
  return { ...model, sessionPersistence: { ...model.sessionPersistence!, maxBindings } };
}

describe("binding table removals", () => {
  it("counts expirations and evictions per pool; pools without a table have no series", async () => {
    const clock = new ManualClock(1_000_000);
    const members: [string, number][] = [["127.0.1.1", 9001]];
    const runtime = await runtimeWith(
      [
        withMaxBindings(pool("l4", "ROUND_ROBIN", "SOURCE_IP", members), 2),
        pool("web", "ROUND_ROBIN", "HTTP_COOKIE", members),
      ],
      clock,
      memoryLogger().log,
    );
    const l4 = runtime.current.pools.get("l4")!;
    const registry = createMetricsRegistry(runtimeAdminSource(runtime), "1");
    let text = await registry.metrics();
    expect(series(text, "stickylb_binding_table_removals_total", 'pool="l4",reason="evicted"')).toBe(0);
    expect(series(text, "stickylb_binding_table_removals_total", 'pool="l4",reason="expired"')).toBe(0);
    expect(
      series(text, "stickylb_binding_table_removals_total", 'pool="web",reason="evicted"'),
    ).toBeUndefined();

    // Three clients in a table of two: the oldest is evicted.
    placeL4(l4, "10.0.0.1");
    placeL4(l4, "10.0.0.2");
    placeL4(l4, "10.0.0.3");
    text = await registry.metrics();
    expect(series(text, "stickylb_binding_table_removals_total", 'pool="l4",reason="evicted"')).toBe(1);

    // Past the persistence timeout (60 s here) the two left expire.
    clock.advance(60_001);
    l4.bindings!.sweep();
    text = await registry.metrics();
    expect(series(text, "stickylb_binding_table_removals_total", 'pool="l4",reason="expired"')).toBe(2);
    expect(series(text, "stickylb_binding_table_removals_total", 'pool="l4",reason="evicted"')).toBe(1);
  });

  describe("with a shared state store", () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("counts the local cache's expirations and evictions the same way", async () => {
      const clock = new ManualClock(1_000_000);
      const runtime = new Runtime({
        clock,
        log: memoryLogger().log,
        drainTimeoutMs: 1000,
        stateDir: "/nonexistent",
        stateStoreUrl: redis.url,
      });
      try {
        const members: [string, number][] = [["127.0.1.1", 9001]];
        await runtime.apply({
          listeners: [],
          pools: [withMaxBindings(pool("l4", "ROUND_ROBIN", "SOURCE_IP", members), 2)],
          cookieSecret: { value: "k".repeat(40) },
        });
        const bindings = runtime.current.pools.get("l4")!.bindings!;
        // The pool's bindings are the shared store's (a promise-returning claim exists), not a plain table.
        expect(bindings.claimShared).toBeTypeOf("function");
        const registry = createMetricsRegistry(runtimeAdminSource(runtime), "1");
        const removals = async (reason: string) =>
          series(
            await registry.metrics(),
            "stickylb_binding_table_removals_total",
            `pool="l4",reason="${reason}"`,
          );
        expect(await removals("evicted")).toBe(0);
        expect(await removals("expired")).toBe(0);

        // Three clients in a cache of two: the oldest leaves the cache (the store keeps it).
        const member = runtime.current.pools.get("l4")!.members[0]!.id;
        for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) bindings.bind(ip, member);
        expect(await removals("evicted")).toBe(1);

        // Past the persistence timeout (60 s here) the two left expire from the cache.
        clock.advance(60_001);
        bindings.sweep();
        expect(await removals("expired")).toBe(2);
        expect(await removals("evicted")).toBe(1);
      } finally {
        await runtime.stop();
      }
    });
  });
});
