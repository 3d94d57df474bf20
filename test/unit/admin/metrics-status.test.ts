import { beforeEach, describe, expect, it } from "vitest";
import { runtimeAdminSource } from "../../../src/admin/admin-source.js";
import { createMetricsRegistry } from "../../../src/admin/metrics.js";
import { RateTracker } from "../../../src/admin/rates.js";
import { buildStatus, trafficSample } from "../../../src/admin/status.js";
import { ManualClock } from "../../../src/core/clock.js";
import type { Runtime } from "../../../src/runtime/runtime.js";
import { placeL4 } from "../../support/placement.js";
import { memoryLogger, pool, runtimeWith } from "./support.js";

const MEMBERS: [string, number][] = [
  ["127.0.1.1", 9001],
  ["127.0.1.2", 9002],
];

/** The value of one series in Prometheus text, or undefined when the series is absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("metrics and status from runtime state", () => {
  let clock: ManualClock;
  let runtime: Runtime;

  beforeEach(async () => {
    clock = new ManualClock(5_000_000);
    runtime = await runtimeWith(
      [pool("l4", "ROUND_ROBIN", "SOURCE_IP", MEMBERS), pool("web", "ROUND_ROBIN", "HTTP_COOKIE", MEMBERS)],
      clock,
      memoryLogger().log,
    );
    const l4 = runtime.current.pools.get("l4")!;
    placeL4(l4, "10.0.0.1");
    placeL4(l4, "10.0.0.2");
    placeL4(l4, "10.0.0.3");
    placeL4(l4, "10.0.0.1");
    runtime.reloads.ok = 2;
    runtime.reloads.error = 1;
  });

  it("exposes the docs/reference/admin-api.md series with exact values, prefixed stickylb_, with bounded labels", async () => {
    const text = await createMetricsRegistry(runtimeAdminSource(runtime), "9.9.9").metrics();
    expect(series(text, "stickylb_bindings", 'pool="l4"')).toBe(3);
    // HTTP_COOKIE keeps no table: no stickylb_bindings series for it (docs/reference/admin-api.md).
    expect(series(text, "stickylb_bindings", 'pool="web"')).toBeUndefined();
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="l4",result="miss"')).toBe(3);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="l4",result="hit"')).toBe(1);
    for (const r of ["expired", "invalid", "redispatch"]) {
      expect(series(text, "stickylb_affinity_decisions_total", `pool="l4",result="${r}"`)).toBe(0);
    }
    expect(series(text, "stickylb_member_bindings", 'pool="l4",member="127.0.1.1:9001"')).toBe(2);
    expect(series(text, "stickylb_member_bindings", 'pool="l4",member="127.0.1.2:9002"')).toBe(1);
    expect(series(text, "stickylb_member_up", 'pool="l4",member="127.0.1.1:9001"')).toBe(1);
    expect(series(text, "stickylb_member_weight", 'pool="web",member="127.0.1.2:9002"')).toBe(1);
    expect(series(text, "stickylb_member_active_connections", 'pool="l4",member="127.0.1.1:9001"')).toBe(0);
    expect(series(text, "stickylb_config_reloads_total", 'result="ok"')).toBe(2);
    expect(series(text, "stickylb_config_reloads_total", 'result="error"')).toBe(1);
    expect(series(text, "stickylb_config_errors_total", 'kind="file"')).toBe(1);
    expect(series(text, "stickylb_build_info", 'version="9.9.9"')).toBe(1);
    expect(text).toMatch(/^stickylb_process_cpu_user_seconds_total /m);
    for (const line of text.split("\n").filter((l) => l.startsWith("# TYPE "))) {
      expect(line.split(" ")[2]).toMatch(/^stickylb_/);
    }
    // No client address ever becomes a label.
    expect(text).not.toContain("10.0.0.1");

    runtime.registry.setHealthy("l4/127.0.1.1:9001", false, "test");
    const after = await createMetricsRegistry(runtimeAdminSource(runtime), "9.9.9").metrics();
    expect(series(after, "stickylb_member_up", 'pool="l4",member="127.0.1.1:9001"')).toBe(0);
  });

  it("counts configuration errors by kind when the source has them", async () => {
    const errors = new Map([
      ["Service", 2],
      ["Ingress", 1],
    ]);
    const text = await createMetricsRegistry(
      runtimeAdminSource(runtime, () => errors),
      "1",
    ).metrics();
    expect(series(text, "stickylb_config_errors_total", 'kind="Service"')).toBe(2);
    expect(series(text, "stickylb_config_errors_total", 'kind="Ingress"')).toBe(1);
    expect(series(text, "stickylb_config_errors_total", 'kind="file"')).toBeUndefined();
  });

  it("builds the docs/reference/admin-api.md status document", () => {
    const rates = new RateTracker(clock);
    rates.sample(trafficSample(runtime));
    const l4 = runtime.current.pools.get("l4")!;
    l4.members[0]!.total += 10;
    clock.advance(2000);
    rates.sample(trafficSample(runtime));
    const status = buildStatus(runtime, rates, "9.9.9", 12);
    expect(status.listeners).toEqual([]);
    expect(status.pools.map((p) => p.name)).toEqual(["l4", "web"]);
    const [p4, web] = status.pools;
    expect(p4).toMatchObject({
      name: "l4",
      algorithm: "ROUND_ROBIN",
      sessionPersistence: "SOURCE_IP",
      bindingTable: true,
      bindings: 3,
      decisions: { hit: 1, miss: 3, expired: 0, invalid: 0, redispatch: 0 },
      stickyHitRatio: 0.25,
    });
    expect(p4!.members[0]).toMatchObject({
      address: "127.0.1.1",
      port: 9001,
      weight: 1,
      up: true,
      draining: false,
      activeConnections: 0,
      bindings: 2,
      endpoint: "127.0.1.1:9001",
      requestRate: 5,
    });
    expect(p4!.members[0]!.bindingShare).toBeCloseTo(2 / 3);
    expect(p4!.members[1]!.bindingShare).toBeCloseTo(1 / 3);
    for (const m of p4!.members) {
      expect(typeof m.up).toBe("boolean");
      expect(typeof m.draining).toBe("boolean");
    }
    expect(web).toMatchObject({ sessionPersistence: "HTTP_COOKIE", bindingTable: false, bindings: 0 });
    expect(web!.members[0]!.bindingShare).toBeNull();
    expect(status).toMatchObject({ version: "9.9.9", uptimeSeconds: 12, reloads: { ok: 2, error: 1 } });
  });
});
