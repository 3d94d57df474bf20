import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerDeclaredSeries } from "../../../src/store/prometheus-series.js";
import { backoffDelay } from "../../../src/store/store-connection.js";
import { StateStoreMetrics } from "../../../src/store/store-metrics.js";

describe("state store metrics", () => {
  it("declares up, operations and a latency histogram that prom-client prints", async () => {
    const m = new StateStoreMetrics();
    m.up = 1;
    m.count("get", "ok", 3);
    m.count("get", "timeout");
    m.count("bind", "error");
    m.observe(0.0002);
    m.observe(0.03);
    m.observe(5);
    const registry = new Registry();
    registerDeclaredSeries(registry, m.series());
    const text = await registry.metrics();
    expect(text).toContain("# TYPE stickylb_state_store_up gauge");
    expect(text).toContain("stickylb_state_store_up 1");
    expect(text).toContain('stickylb_state_store_operations_total{op="get",result="ok"} 3');
    expect(text).toContain('stickylb_state_store_operations_total{op="get",result="timeout"} 1');
    expect(text).toContain('stickylb_state_store_operations_total{op="bind",result="error"} 1');
    expect(text).toContain("# TYPE stickylb_state_store_latency_seconds histogram");
    expect(text).toContain('stickylb_state_store_latency_seconds_bucket{le="0.00025"} 1');
    expect(text).toContain('stickylb_state_store_latency_seconds_bucket{le="0.05"} 2');
    expect(text).toContain('stickylb_state_store_latency_seconds_bucket{le="1"} 2');
    expect(text).toContain('stickylb_state_store_latency_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain("stickylb_state_store_latency_seconds_count 3");
    // Values are read at scrape time, not copied at registration.
    m.up = 0;
    expect(await registry.metrics()).toContain("stickylb_state_store_up 0");
  });
});

describe("reconnect backoff", () => {
  const opts = { minMs: 100, maxMs: 5000 };
  it("doubles from the minimum up to the cap, with half of it random", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, opts, () => 1))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000,
    ]);
    expect([1, 2, 7].map((n) => backoffDelay(n, opts, () => 0))).toEqual([50, 100, 2500]);
  });
});
