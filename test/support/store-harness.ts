/**
 * Opening state stores ("replicas") in tests: short flush intervals, a log that the test can read,
 * and polling helpers with generous deadlines (the machine is shared; never a tight threshold).
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { type OpenStateStoreOptions, openStateStore, type StateStore } from "../../src/store/state-store.js";

export interface TestReplica {
  readonly store: StateStore;
  /** Parsed log lines written so far. */
  logs(): Record<string, unknown>[];
}

export function openReplica(url: string, extra: Partial<OpenStateStoreOptions> = {}): TestReplica {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  const log = pino({ level: "info" }, sink);
  // A generous lookup budget: on a loaded machine 50 ms is not always enough for a loopback round
  // trip, and only the tests of the budget itself (which set it) may depend on it.
  const store = openStateStore({
    url,
    keyPrefix: "t:",
    log,
    flushIntervalMs: 100,
    lookupBudgetMs: 5000,
    ...extra,
  });
  return { store, logs: () => lines };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitUp(replica: TestReplica): Promise<void> {
  await eventually("the state store is up", () => replica.store.connection.up, 20_000);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
