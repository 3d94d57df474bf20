/**
 * What an in-process binding table removes is counted and exported:
 * `stickylb_binding_table_removals_total{pool,reason}` with `expired` (idle past the persistence
 * timeout, on the injected clock) and `evicted` (the oldest entry, at `maxBindings`).
 */
import { describe, expect, it } from "vitest";
import { runtimeAdminSource } from "../../../src/admin/admin-source.js";
import { createMetricsRegistry } from "../../../src/admin/metrics.js";
import { ManualClock } from "../../../src/core/clock.js";
import type { PoolModel } from "../../../src/core/model.js";
import { placeL4 } from "../../support/placement.js";
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
});
