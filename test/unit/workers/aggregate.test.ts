import { Counter, Gauge, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { aggregateMetrics, type MetricJson } from "../../../src/cluster/aggregate-metrics.js";

/** One process's registry: requests, member_up and bindings as the real metrics declare them. */
async function processMetrics(requests: number, up: number, bindings: Record<string, number>) {
  const registry = new Registry();
  new Counter({
    name: "stickylb_requests_total",
    help: "h",
    labelNames: ["listener"],
    registers: [registry],
  }).inc({ listener: "web" }, requests);
  new Gauge({
    name: "stickylb_member_up",
    help: "h",
    labelNames: ["pool", "member"],
    registers: [registry],
    aggregator: "min",
  }).set({ pool: "web", member: "10.0.0.1:80" }, up);
  const g = new Gauge({ name: "stickylb_bindings", help: "h", labelNames: ["pool"], registers: [registry] });
  for (const [pool, n] of Object.entries(bindings)) g.set({ pool }, n);
  // Through JSON, as over the IPC channel.
  return JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as MetricJson[];
}

describe("aggregateMetrics", () => {
  it("sums counters and split tables, takes member_up's minimum and one replica's count", async () => {
    const primary: MetricJson[] = [];
    const w1 = await processMetrics(7, 1, { ip: 3, app: 5 });
    const w2 = await processMetrics(4, 0, { ip: 2, app: 5 });
    const text = await aggregateMetrics([primary, w1, w2], new Set(["app"]));
    expect(text).toMatch(/^stickylb_requests_total\{listener="web"\} 11$/m);
    expect(text).toMatch(/^stickylb_member_up\{pool="web",member="10\.0\.0\.1:80"\} 0$/m);
    expect(text).toMatch(/^stickylb_bindings\{pool="ip"\} 5$/m);
    expect(text).toMatch(/^stickylb_bindings\{pool="app"\} 5$/m);
  });
});
