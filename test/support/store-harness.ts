/**
 * Opening state stores ("replicas") in tests: short flush intervals, a log that the test can read,
 * and polling helpers with generous deadlines (the machine is shared; never a tight threshold).
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type OpenStateStoreOptions, openStateStore, type StateStore } from "../../src/store/state-store.js";
import { type RedisServer, startRedis } from "./redis.js";

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

/**
 * One redis-server for a whole test file, and replicas on it: every replica opened through
 * `replica` is closed after each test and the store is flushed, so tests start from an empty store.
 */
export function replicasOnOneRedis(): {
  readonly redis: RedisServer;
  replica(url?: string, extra?: Partial<OpenStateStoreOptions>): TestReplica;
} {
  let server: RedisServer | undefined;
  const opened: TestReplica[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    for (const r of opened.splice(0)) await r.store.close();
    await server?.cli("FLUSHALL").catch(() => {});
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get redis(): RedisServer {
      if (server === undefined) throw new Error("redis-server is started in beforeAll");
      return server;
    },
    replica(url?: string, extra: Partial<OpenStateStoreOptions> = {}): TestReplica {
      const r = openReplica(url ?? this.redis.url, extra);
      opened.push(r);
      return r;
    },
  };
}
