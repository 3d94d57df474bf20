/**
 * With `--workers`, the primary holds the TCP-family sockets, so whether such a listener is bound
 * is the primary's to say: its `stickylb_listener_up` joins the workers' (whose injected listeners
 * always read 1) by minimum, and its bind state replaces the workers' in `/api/v1/status`.
 */
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { declareListenerUp } from "../../../src/admin/listener-metrics.js";
import { seriesOn } from "../../../src/admin/metric-series.js";
import type { StatusListener } from "../../../src/admin/status.js";
import { aggregateMetrics, type MetricJson } from "../../../src/cluster/aggregate-metrics.js";
import { aggregateStatus, type WorkerStatus } from "../../../src/cluster/aggregate-status.js";
import type { BindState } from "../../../src/data/listener/bind-retry.js";
import { bindKeyOf } from "../../../src/data/snapshot.js";

async function listenerUpOf(rows: { listener: string; up: boolean }[]): Promise<MetricJson[]> {
  const registry = new Registry();
  declareListenerUp(seriesOn(registry), () => rows);
  return JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as MetricJson[];
}

const listener = (name: string, port: number): StatusListener =>
  ({
    name,
    protocol: "TCP",
    address: "127.0.0.1",
    port,
    bound: true,
    error: null,
    pools: ["p"],
    accessLog: false,
    open: 1,
    connections: 2,
    unit: "connections",
    traffic: 2,
    rate: 0,
    bytesIn: 0,
    bytesOut: 0,
    latency: null,
  }) as unknown as StatusListener;

const worker = (pid: number): WorkerStatus =>
  ({
    pid,
    ready: true,
    listeners: [listener("held", 7001), listener("free", 7002)],
    pools: [],
    version: "1",
    configVersion: 1,
    uptimeSeconds: 1,
    reloads: { ok: 0, error: 0 },
    stateStore: null,
  }) as unknown as WorkerStatus;

describe("the primary's bind state with --workers", () => {
  it("stickylb_listener_up is 0 while the primary cannot bind, whatever the workers say", async () => {
    const primary = await listenerUpOf([
      { listener: "held", up: false },
      { listener: "free", up: true },
    ]);
    const w = await listenerUpOf([
      { listener: "held", up: true },
      { listener: "free", up: true },
    ]);
    const text = await aggregateMetrics([primary, w, w], new Set());
    expect(text).toMatch(/^stickylb_listener_up\{listener="held"\} 0$/m);
    expect(text).toMatch(/^stickylb_listener_up\{listener="free"\} 1$/m);
  });

  it("status shows the primary's bind state and error for the listeners it holds", () => {
    const held = bindKeyOf(listener("held", 7001));
    const states = new Map<string, BindState>([
      [
        held,
        {
          bound: false,
          error: "listen EADDRINUSE: address already in use 127.0.0.1:7001",
          code: "EADDRINUSE",
          attempts: 2,
          retryInMs: 2000,
        },
      ],
      [bindKeyOf(listener("free", 7002)), { bound: true }],
    ]);
    const doc = aggregateStatus([worker(11), worker(12)], {
      portOf: () => undefined,
      bindStateOf: (key) => states.get(key),
      reloads: { ok: 0, error: 0 },
      uptimeSeconds: 5,
      ready: true,
    });
    expect(doc.listeners.find((l) => l.name === "held")).toMatchObject({
      bound: false,
      error: "listen EADDRINUSE: address already in use 127.0.0.1:7001",
      connections: 4,
    });
    expect(doc.listeners.find((l) => l.name === "free")).toMatchObject({ bound: true, error: null });
  });
});
