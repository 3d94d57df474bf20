import { describe, expect, it } from "vitest";
import {
  DURATION_BUCKETS,
  durationQuantile,
  mergedCounts,
  RequestDurations,
} from "../../../src/data/proxy/request-durations.js";

describe("request durations", () => {
  it("counts each response into the first bucket whose bound holds it, per pool", () => {
    const d = new RequestDurations();
    d.observe("web", 0); // same millisecond
    d.observe("web", 1); // exactly 1 ms: bounds are inclusive, as Prometheus's `le`
    d.observe("web", 7);
    d.observe("web", 61_000); // past the last bound
    d.observe("api", 300);
    const web = [...d.series()].find((s) => s.pool === "web")!;
    expect([...web.counts]).toEqual([2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(web.count).toBe(4);
    expect(web.sum).toBeCloseTo(0.001 + 0.007 + 61, 9);
    const api = [...d.series()].find((s) => s.pool === "api")!;
    expect(api.counts[DURATION_BUCKETS.indexOf(0.5)]).toBe(1);
  });

  it("estimates quantiles as histogram_quantile does, from merged pools", () => {
    const d = new RequestDurations();
    for (let i = 0; i < 98; i++) d.observe("a", 3); // 2.5–5 ms bucket
    d.observe("b", 40); // 25–50 ms bucket
    d.observe("b", 40);
    const counts = mergedCounts(d.series());
    expect(counts.reduce((n, c) => n + c, 0)).toBe(100);
    // rank 50 of 98 in (0.0025, 0.005]: linear inside the bucket.
    expect(durationQuantile(counts, 0.5)).toBeCloseTo(0.0025 + 0.0025 * (50 / 98), 9);
    // rank 99: the first of the two in (0.025, 0.05].
    expect(durationQuantile(counts, 0.99)).toBeCloseTo(0.025 + 0.025 * (1 / 2), 9);
  });

  it("has no quantile before the first response, and caps past the last bound", () => {
    expect(durationQuantile(mergedCounts([]), 0.5)).toBeNull();
    const d = new RequestDurations();
    d.observe("slow", 120_000);
    expect(durationQuantile(mergedCounts(d.series()), 0.99)).toBe(60);
  });
});
