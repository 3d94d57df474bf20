import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { HealthMonitor, ListenerModel, PoolModel } from "../../../src/core/model.js";
import type { HealthStatusPort } from "../../../src/data/upstream/member-registry.js";
import { HEALTH_CHANGED_MSG, HealthManager } from "../../../src/health/health-manager.js";
import type { Probe, ProbeResult } from "../../../src/health/probes.js";
import { poolModel, TestRuntime, udpListenerModel } from "../udp/support.js";
import { FakeTimers, settle } from "./fake-timers.js";

const A = { address: "127.0.1.1", port: 9000 };
const B = { address: "127.0.1.2", port: 9000 };
const EA = "127.0.1.1:9000";
const EB = "127.0.1.2:9000";

function monitor(overrides: Partial<HealthMonitor> = {}): HealthMonitor {
  return {
    type: "HTTP",
    delayMs: 1000,
    timeoutMs: 300,
    maxRetries: 2,
    maxRetriesDown: 3,
    urlPath: "/healthz",
    expectedCodes: [[200, 200]],
    ...overrides,
  };
}

type Behaviour = "ok" | "fail" | "hang";

/** A probe whose answer per endpoint the test sets; records when each probe started. */
class FakeProbe {
  readonly behaviour = new Map<string, Behaviour>();
  readonly calls: { endpoint: string; at: number; type: string }[] = [];
  constructor(private readonly now: () => number) {}
  readonly probe: Probe = (target, m, signal) => {
    const endpoint = `${target.address}:${target.port}`;
    this.calls.push({ endpoint, at: this.now(), type: m.type });
    const b = this.behaviour.get(endpoint) ?? "ok";
    if (b === "ok") return Promise.resolve({ ok: true, detail: "HTTP 200" });
    if (b === "fail") return Promise.resolve({ ok: false, detail: "HTTP 503" });
    return new Promise<ProbeResult>((resolve) =>
      signal.addEventListener("abort", () => resolve({ ok: false, detail: "timeout" })),
    );
  };
  at(endpoint: string): number[] {
    return this.calls.filter((c) => c.endpoint === endpoint).map((c) => c.at);
  }
}

interface Harness {
  rt: TestRuntime;
  timers: FakeTimers;
  probe: FakeProbe;
  manager: HealthManager;
  writes: { id: string; healthy: boolean }[];
  logs: Record<string, unknown>[];
  t0: number;
  pools(pools: PoolModel[]): void;
}

function harness(pools: PoolModel[], random = 0.5): Harness {
  const listeners: ListenerModel[] = [udpListenerModel()];
  const rt = new TestRuntime({ listeners, pools });
  const timers = new FakeTimers(rt.clock);
  const probe = new FakeProbe(() => rt.clock.now());
  const writes: { id: string; healthy: boolean }[] = [];
  const status: HealthStatusPort = {
    setHealthy: (id, healthy, reason) => {
      writes.push({ id, healthy });
      rt.registry.setHealthy(id, healthy, reason);
    },
  };
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: "info" },
    { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) },
  );
  const manager = new HealthManager({
    status,
    log,
    clock: rt.clock,
    timers,
    random: () => random,
    probes: { HTTP: probe.probe, TCP: probe.probe, HTTPS: probe.probe, UDP_CONNECT: probe.probe },
  });
  manager.sync(rt.holder.current);
  return {
    rt,
    timers,
    probe,
    manager,
    writes,
    logs,
    t0: rt.clock.now(),
    pools: (next) => {
      rt.apply({ listeners, pools: next });
      manager.sync(rt.holder.current);
    },
  };
}

describe("HealthManager: schedule", () => {
  it("probes first at a random point within one delay, then every delay", async () => {
    const h = harness([poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0.25);
    await h.timers.advance(3500);
    expect(h.probe.at(EA).map((t) => t - h.t0)).toEqual([250, 1250, 2250, 3250]);
  });

  it("spreads first probes by the random source", async () => {
    let r = 0;
    const values = [0.1, 0.9];
    const h = harness([poolModel([A, B], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0);
    // Replace the first schedule with explicit randoms: a second manager on the same snapshot.
    h.manager.stop();
    const timers = new FakeTimers(h.rt.clock);
    const m = new HealthManager({
      status: h.rt.registry,
      log: pino({ level: "silent" }),
      clock: h.rt.clock,
      timers,
      random: () => values[r++] ?? 0,
      probes: { HTTP: h.probe.probe },
    });
    m.sync(h.rt.holder.current);
    await timers.advance(1000);
    expect(h.probe.at(EA).map((t) => t - h.t0)).toEqual([100]);
    expect(h.probe.at(EB).map((t) => t - h.t0)).toEqual([900]);
    m.stop();
  });

  it("a probe that hangs is aborted at the timeout and counts as a failure; the period holds", async () => {
    const h = harness(
      [poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ maxRetriesDown: 2 }) })],
      0,
    );
    h.probe.behaviour.set(EA, "hang");
    await h.timers.advance(0);
    expect(h.manager.view(h.rt.member(EA).id)).toMatchObject({ failures: 0 });
    await h.timers.advance(300);
    expect(h.manager.view(h.rt.member(EA).id)).toMatchObject({ failures: 1, healthy: true });
    await h.timers.advance(1000);
    expect(h.probe.at(EA).map((t) => t - h.t0)).toEqual([0, 1000]);
    expect(h.rt.member(EA).healthy).toBe(false);
    expect(h.logs.at(-1)).toMatchObject({
      msg: HEALTH_CHANGED_MSG,
      healthy: false,
      reason: expect.stringContaining("timeout"),
    });
  });
});

describe("HealthManager: thresholds", () => {
  it("takes a member down after maxRetriesDown failed probes and back after maxRetries good ones, logging each change", async () => {
    const h = harness([poolModel([A, B], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0);
    await h.timers.advance(0);
    h.probe.behaviour.set(EA, "fail");
    await h.timers.advance(2000);
    expect(h.rt.member(EA).healthy).toBe(true);
    await h.timers.advance(1000);
    expect(h.rt.member(EA).healthy).toBe(false);
    expect(h.rt.member(EA).eligible).toBe(false);
    expect(h.rt.member(EB).healthy).toBe(true);
    h.probe.behaviour.set(EA, "ok");
    await h.timers.advance(1000);
    expect(h.rt.member(EA).healthy).toBe(false);
    await h.timers.advance(1000);
    expect(h.rt.member(EA).healthy).toBe(true);
    const changes = h.logs.filter((l) => l.msg === HEALTH_CHANGED_MSG);
    expect(changes).toEqual([
      expect.objectContaining({
        member: EA,
        pool: "p",
        healthy: false,
        reason: "3 consecutive failure(s), last: HTTP 503",
      }),
      expect.objectContaining({
        member: EA,
        pool: "p",
        healthy: true,
        reason: "2 consecutive successful probe(s)",
      }),
    ]);
    expect(h.writes).toEqual([
      { id: h.rt.member(EA).id, healthy: false },
      { id: h.rt.member(EA).id, healthy: true },
    ]);
  });

  it("a good probe between failures starts the count over", async () => {
    const h = harness([poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0);
    const steps: [Behaviour, boolean][] = [
      ["fail", true],
      ["fail", true],
      ["ok", true],
      ["fail", true],
      ["fail", true],
      ["fail", false],
    ];
    for (const [i, [b, healthyAfter]] of steps.entries()) {
      h.probe.behaviour.set(EA, b);
      await h.timers.advance(i === 0 ? 0 : 1000);
      expect(h.rt.member(EA).healthy).toBe(healthyAfter);
    }
    expect(h.probe.at(EA).length).toBe(6);
  });
});

describe("HealthManager: passive failures", () => {
  it("connect failures count towards maxRetriesDown together with failed probes; a connect success resets", async () => {
    const h = harness(
      [poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ delayMs: 60_000 }) })],
      0.99,
    );
    const a = h.rt.member(EA);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.consecutiveFailures).toBe(2);
    h.manager.connectSucceeded(a);
    expect(a.consecutiveFailures).toBe(0);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(true);
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(false);
    expect(h.logs.at(-1)).toMatchObject({
      msg: HEALTH_CHANGED_MSG,
      healthy: false,
      reason: expect.stringContaining("passive: ECONNREFUSED"),
    });
    // Only probes bring it back.
    h.manager.connectSucceeded(a);
    expect(a.healthy).toBe(false);
    await h.timers.advance(60_000 + 60_000);
    expect(a.healthy).toBe(true);
  });

  it("successful connects never erase failed probes: a member serving traffic still goes down", async () => {
    const h = harness(
      [poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ maxRetriesDown: 2 }) })],
      0,
    );
    const a = h.rt.member(EA);
    h.probe.behaviour.set(EA, "fail");
    await h.timers.advance(0);
    expect(h.manager.view(a.id)).toMatchObject({ failures: 1, healthy: true });
    // A keep-alive client keeps connecting between the probes.
    for (let i = 0; i < 5; i++) h.manager.connectSucceeded(a);
    expect(h.manager.view(a.id)).toMatchObject({ failures: 1 });
    await h.timers.advance(600);
    h.manager.connectSucceeded(a);
    await h.timers.advance(400);
    expect(a.healthy).toBe(false);
    expect(h.logs.at(-1)).toMatchObject({
      healthy: false,
      reason: "2 consecutive failure(s), last: HTTP 503",
    });
  });

  it("a passive failure adds to failed probes; a connect success then leaves the count alone", async () => {
    const h = harness(
      [poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ maxRetriesDown: 3 }) })],
      0,
    );
    const a = h.rt.member(EA);
    h.probe.behaviour.set(EA, "fail");
    await h.timers.advance(0);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectSucceeded(a);
    expect(h.manager.view(a.id)).toMatchObject({ failures: 2, healthy: true });
    await h.timers.advance(1000);
    expect(a.healthy).toBe(false);
  });
});

describe("HealthManager: passive ejection without a monitor", () => {
  it("ejects after 3 consecutive connect failures, re-admits on trial after 10 s, doubles the backoff on a failed trial", async () => {
    const h = harness([poolModel([A, B])]);
    const a = h.rt.member(EA);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(true);
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(false);
    expect(a.eligible).toBe(false);
    expect(h.rt.member(EB).healthy).toBe(true);
    expect(h.logs.at(-1)).toMatchObject({
      msg: HEALTH_CHANGED_MSG,
      healthy: false,
      reason: "passive: 3 consecutive connect failure(s), last: ECONNREFUSED; ejected for 10s",
    });
    await h.timers.advance(9_999);
    expect(a.healthy).toBe(false);
    await h.timers.advance(1);
    expect(a.healthy).toBe(true);
    expect(h.manager.outlier(a.id)).toMatchObject({ onTrial: true, ejected: false });
    // One failure on trial is enough: out again, for twice as long.
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(false);
    expect(h.logs.at(-1)).toMatchObject({ reason: expect.stringContaining("ejected for 20s") });
    await h.timers.advance(19_999);
    expect(a.healthy).toBe(false);
    await h.timers.advance(1);
    expect(a.healthy).toBe(true);
    // A success on trial ends it and resets the backoff.
    h.manager.connectSucceeded(a);
    expect(h.manager.outlier(a.id)).toBeUndefined();
    for (let i = 0; i < 3; i++) h.manager.connectFailed(a, "ETIMEDOUT");
    expect(h.logs.at(-1)).toMatchObject({ reason: expect.stringContaining("ejected for 10s") });
  });

  it("a success between failures starts the count over; the backoff stops at its cap", async () => {
    const h = harness([poolModel([A])]);
    const a = h.rt.member(EA);
    for (const step of ["f", "f", "s", "f", "f"]) {
      if (step === "f") h.manager.connectFailed(a, "ECONNREFUSED");
      else h.manager.connectSucceeded(a);
    }
    expect(a.healthy).toBe(true);
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(false);
    const lengths: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = h.rt.clock.now();
      while (!a.healthy) await h.timers.advance(1000);
      lengths.push(h.rt.clock.now() - before);
      h.manager.connectFailed(a, "ECONNREFUSED");
    }
    expect(lengths).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 160_000, 160_000]);
  });

  it("failures further apart than 10 s start the count over (successes may not be reported, as with --workers)", async () => {
    const h = harness([poolModel([A])]);
    const a = h.rt.member(EA);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectFailed(a, "ECONNREFUSED");
    await h.timers.advance(10_001);
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(true);
    expect(h.manager.outlier(a.id)).toMatchObject({ failures: 1 });
    await h.timers.advance(10_000);
    h.manager.connectFailed(a, "ECONNREFUSED");
    h.manager.connectFailed(a, "ECONNREFUSED");
    expect(a.healthy).toBe(false);
  });

  it("a reload keeps an ejection; a monitor added to the pool takes over; a member gone is forgotten", async () => {
    const h = harness([poolModel([A, B])], 0);
    const a = h.rt.member(EA);
    for (let i = 0; i < 3; i++) h.manager.connectFailed(a, "ECONNREFUSED");
    h.pools([poolModel([A, B])]);
    expect(a.healthy).toBe(false);
    h.pools([poolModel([A, B], "ROUND_ROBIN", false, { healthMonitor: monitor({ maxRetries: 1 }) })]);
    expect(h.manager.outlier(a.id)).toBeUndefined();
    expect(a.healthy).toBe(false);
    await h.timers.advance(0);
    expect(a.healthy).toBe(true);
    h.pools([poolModel([B])]);
    const b = h.rt.member(EB);
    for (let i = 0; i < 3; i++) h.manager.connectFailed(b, "ECONNREFUSED");
    expect(h.manager.outlier(b.id)).toMatchObject({ ejected: true });
    h.pools([poolModel([A])]);
    expect(h.manager.outlier(b.id)).toBeUndefined();
    expect(h.timers.pending).toBe(0);
  });
});

describe("HealthManager: sync and stop", () => {
  it("keeps the state of members that stay, starts new members, stops members gone", async () => {
    const pool = (members: { address: string; port: number }[]) =>
      poolModel(members, "ROUND_ROBIN", false, {
        healthMonitor: monitor({ maxRetriesDown: 1, maxRetries: 3 }),
      });
    const h = harness([pool([A])], 0);
    h.probe.behaviour.set(EA, "fail");
    await h.timers.advance(0);
    expect(h.rt.member(EA).healthy).toBe(false);
    h.probe.behaviour.set(EA, "ok");
    await h.timers.advance(1000);
    expect(h.manager.view(h.rt.member(EA).id)).toMatchObject({ healthy: false, successes: 1 });

    h.pools([pool([A, B])]);
    expect(h.manager.view(h.rt.member(EA).id)).toMatchObject({ healthy: false, successes: 1 });
    expect(h.manager.size).toBe(2);
    await h.timers.advance(1000);
    // A kept its schedule (no fresh jitter) and its count; B started at once (random 0).
    expect(h.probe.at(EA).map((t) => t - h.t0)).toEqual([0, 1000, 2000]);
    expect(h.probe.at(EB).map((t) => t - h.t0)).toEqual([1000, 2000]);
    expect(h.manager.view(h.rt.member(EA).id)).toMatchObject({ healthy: false, successes: 2 });

    h.pools([pool([B])]);
    expect(h.manager.size).toBe(1);
    const before = h.probe.at(EA).length;
    await h.timers.advance(5000);
    expect(h.probe.at(EA).length).toBe(before);
  });

  it("a monitor whose probe changes restarts with a new first probe; thresholds apply at once", async () => {
    const h = harness([poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0.5);
    await h.timers.advance(600);
    expect(h.probe.at(EA).length).toBe(1);
    h.pools([
      poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ type: "TCP", delayMs: 200 }) }),
    ]);
    await h.timers.advance(100);
    expect(h.probe.calls.at(-1)).toMatchObject({ endpoint: EA, type: "TCP" });
  });

  it("a member left down when its pool loses the monitor is set healthy again", async () => {
    const h = harness(
      [poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor({ maxRetriesDown: 1 }) })],
      0,
    );
    h.probe.behaviour.set(EA, "fail");
    await h.timers.advance(0);
    expect(h.rt.member(EA).healthy).toBe(false);
    h.pools([poolModel([A])]);
    expect(h.rt.member(EA).healthy).toBe(true);
    expect(h.logs.at(-1)).toMatchObject({
      msg: HEALTH_CHANGED_MSG,
      healthy: true,
      reason: "health monitor removed",
    });
    expect(h.manager.size).toBe(0);
  });

  it("stop aborts probes in flight and schedules nothing more", async () => {
    const h = harness([poolModel([A], "ROUND_ROBIN", false, { healthMonitor: monitor() })], 0);
    h.probe.behaviour.set(EA, "hang");
    await h.timers.advance(0);
    h.manager.stop();
    await settle();
    await h.timers.advance(10_000);
    expect(h.probe.at(EA).length).toBe(1);
    expect(h.rt.member(EA).healthy).toBe(true);
    expect(h.timers.pending).toBe(0);
  });
});
