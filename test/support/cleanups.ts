import { pino } from "pino";
import { afterEach } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { Runtime } from "../../src/runtime/runtime.js";

/**
 * A list of cleanups run after each test of the calling file, last pushed first (servers, sockets,
 * runtimes a test started). Call it at the top level of a test file.
 */
export function cleanupList(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** A runtime on the system clock with a silent log, stopped by `cleanups` after the test. */
export function silentRuntime(cleanups: (() => unknown)[]): Runtime {
  const runtime = new Runtime({
    clock: systemClock,
    log: pino({ level: "silent" }),
    drainTimeoutMs: 1000,
    stateDir: "/nonexistent",
  });
  cleanups.push(() => runtime.stop());
  return runtime;
}
