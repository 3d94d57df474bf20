import { Writable } from "node:stream";
import { pino } from "pino";
import { DEFAULT_COOKIE } from "../../../src/control/config/native-persistence.js";
import type { ManualClock } from "../../../src/core/clock.js";
import type { Logger } from "../../../src/core/log.js";
import type { Algorithm, ConfigModel, PersistenceType, PoolModel } from "../../../src/core/model.js";
import { Runtime } from "../../../src/runtime/runtime.js";

/** A logger whose JSON lines are kept in memory. */
export function memoryLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((l) => l !== ""),
      );
      done();
    },
  });
  const log = pino({ level: "info" }, stream);
  return { log, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const SOURCE = { file: "test", object: "LoadBalancer/test" };

export function pool(
  name: string,
  algorithm: Algorithm,
  persistence: PersistenceType | undefined,
  endpoints: readonly [string, number][],
): PoolModel {
  return {
    name,
    algorithm,
    ...(persistence === undefined
      ? {}
      : {
          sessionPersistence: {
            type: persistence,
            persistenceTimeoutMs: 60_000,
            cookieName: persistence === "APP_COOKIE" ? "JSESSIONID" : "STICKYLB",
            cookie: DEFAULT_COOKIE,
            maxBindings: 1000,
          },
        }),
    members: endpoints.map(([address, port]) => ({ address, port, weight: 1, draining: false })),
    source: SOURCE,
  };
}

/** A runtime with pools and no listeners: nothing binds, the admin API has state to read. */
export async function runtimeWith(pools: PoolModel[], clock: ManualClock, log: Logger): Promise<Runtime> {
  const model: ConfigModel = { listeners: [], pools, cookieSecret: { value: "k".repeat(40) } };
  const runtime = new Runtime({ clock, log, drainTimeoutMs: 1000, stateDir: "/nonexistent" });
  await runtime.apply(model);
  return runtime;
}
