/**
 * One listener that cannot bind never takes the others down: with a port held by another socket
 * the configuration applies, the other listener serves, the runtime is ready, and the held
 * listener is retried with a doubling delay until the holder lets go. The retry timers are
 * injected, so no test waits for a real backoff; sockets and requests are real.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { listenerViews } from "../../../src/admin/listener-view.js";
import { systemClock } from "../../../src/core/clock.js";
import type { ListenerModel } from "../../../src/core/model.js";
import {
  BIND_RETRY_FIRST_MS,
  BIND_RETRY_MAX_MS,
  type BindState,
  nextBindDelay,
} from "../../../src/data/listener/bind-retry.js";
import { Runtime } from "../../../src/runtime/runtime.js";
import { cleanupList } from "../../support/cleanups.js";
import { holdPort } from "../../support/held-port.js";
import { type HttpBackend, httpGet, startHttpBackend } from "../../support/http-backends.js";
import { ManualTimers } from "../../support/manual-timers.js";
import { until } from "../../support/time.js";
import { listenerModel, poolModel } from "../http/harness.js";

const cleanups = cleanupList();

describe("bind retry schedule", () => {
  it("starts at one second and doubles up to thirty", () => {
    const delays: number[] = [];
    let d: number | undefined;
    for (let i = 0; i < 8; i++) {
      d = nextBindDelay(d);
      delays.push(d);
    }
    expect(BIND_RETRY_FIRST_MS).toBe(1000);
    expect(BIND_RETRY_MAX_MS).toBe(30_000);
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe("a listener whose port is held by another socket", () => {
  let member: HttpBackend;
  let timers: ManualTimers;
  let runtime: Runtime;
  const told: { name: string; state: BindState }[] = [];

  async function setUp(): Promise<{
    held: ListenerModel;
    free: ListenerModel;
    release: () => Promise<void>;
  }> {
    member = await startHttpBackend("m1", "127.0.1.1");
    cleanups.push(() => member.close());
    const holder = await holdPort();
    cleanups.push(holder.release);
    timers = new ManualTimers();
    told.length = 0;
    runtime = new Runtime({
      clock: systemClock,
      log: pino({ level: "silent" }),
      drainTimeoutMs: 1000,
      stateDir: "/nonexistent",
      bindRetryTimers: timers,
    });
    cleanups.push(() => runtime.stop());
    runtime.listeners.observeBinds((model, state) => told.push({ name: model.name, state }));
    const held = listenerModel({ name: "held", port: holder.port });
    const free = listenerModel({ name: "free", port: 0 });
    await runtime.apply({
      listeners: [held, free],
      pools: [poolModel("web", [{ address: "127.0.1.1", port: member.port }])],
    });
    return { held, free, release: holder.release };
  }

  it("lets the others serve, reports it, and binds on retry once the holder lets go", async () => {
    const { held, free, release } = await setUp();
    expect(runtime.isReady()).toBe(true);
    const freePort = runtime.listeners.get(free)!.port;
    expect((await httpGet(freePort)).body).toBe("m1\n");

    const state = runtime.listeners.bindState(held);
    expect(state).toMatchObject({ bound: false, code: "EADDRINUSE", attempts: 1, retryInMs: 1000 });
    expect(state?.bound === false && state.error).toMatch(/EADDRINUSE/);
    expect(timers.delays()).toEqual([1000]);
    const views = listenerViews(runtime.current, runtime.listeners);
    expect(views.map((v) => [v.model.name, v.bound, v.bindError !== null])).toEqual([
      ["held", false, true],
      ["free", true, false],
    ]);
    expect(told).toEqual([{ name: "held", state: expect.objectContaining({ bound: false }) }]);

    // Still held: the next attempt fails the same way, waits twice as long, and is not told again.
    timers.fireAll();
    await until(() => timers.delays().length === 1, "the second attempt");
    expect(runtime.listeners.bindState(held)).toMatchObject({ bound: false, attempts: 2, retryInMs: 2000 });
    expect(told).toHaveLength(1);

    await release();
    timers.fireAll();
    await until(() => runtime.listeners.bindState(held)?.bound === true, "the retry to bind");
    expect(timers.delays()).toEqual([]);
    expect(told.at(-1)).toEqual({ name: "held", state: { bound: true } });
    expect((await httpGet(held.port)).body).toBe("m1\n");
    // The listener that served all along was never disturbed.
    expect((await httpGet(freePort)).body).toBe("m1\n");
  });

  it("stops retrying when a reload removes it, and a reload tries a failing one at once", async () => {
    const { held, free, release } = await setUp();
    const pools = runtime.current.model.pools;
    // A reload that keeps it tries again at once (same error: no new report), keeping one timer.
    await runtime.apply({ listeners: [held, free], pools });
    expect(runtime.listeners.bindState(held)).toMatchObject({ bound: false, attempts: 2 });
    expect(timers.delays()).toEqual([2000]);

    await runtime.apply({ listeners: [free], pools });
    expect(timers.delays()).toEqual([]);
    expect(runtime.listeners.bindState(held)).toBeUndefined();
    await release();
    // A retry that was already due when the reload came does nothing.
    timers.fireAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(runtime.listeners.get(held)).toBeUndefined();
    await expect(httpGet(held.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
