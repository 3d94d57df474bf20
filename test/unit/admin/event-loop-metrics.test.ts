import { describe, expect, it } from "vitest";
import { runtimeAdminSource } from "../../../src/admin/admin-source.js";
import { eventLoopDelaySeconds } from "../../../src/admin/event-loop-metrics.js";
import { createMetricsRegistry } from "../../../src/admin/metrics.js";
import { ManualClock } from "../../../src/core/clock.js";
import { memoryLogger, pool, runtimeWith } from "./support.js";

/** Sample lines (not comments) whose value is not a finite number or ±Inf. */
function nanSamples(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#") && /\sNaN$/i.test(l));
}

describe("event-loop delay metrics", () => {
  it("an empty histogram gives no values (its mean is NaN and its minimum 2^63 ns)", () => {
    const empty = {
      count: 0,
      min: 2 ** 63,
      max: 0,
      mean: Number.NaN,
      stddev: Number.NaN,
      percentile: () => 0,
    };
    expect(eventLoopDelaySeconds(empty)).toBeUndefined();
    const one = {
      count: 1,
      min: 2e6,
      max: 2e6,
      mean: 2e6,
      stddev: Number.NaN,
      percentile: () => 2e6,
    };
    expect(eventLoopDelaySeconds(one)).toEqual([0.002, 0.002, 0.002, 0, 0.002, 0.002, 0.002]);
  });

  it("no scrape reads NaN, also right after start and twice in a row", async () => {
    const runtime = await runtimeWith(
      [pool("web", "ROUND_ROBIN", "HTTP_COOKIE", [["127.0.1.1", 9001]])],
      new ManualClock(5_000_000),
      memoryLogger().log,
    );
    const registry = createMetricsRegistry(runtimeAdminSource(runtime), "0.0.0-test");
    const first = await registry.metrics();
    const second = await registry.metrics();
    expect(first).toContain("stickylb_nodejs_eventloop_lag_mean_seconds ");
    expect(nanSamples(first)).toEqual([]);
    expect(nanSamples(second)).toEqual([]);
    await runtime.stop();
  });
});
