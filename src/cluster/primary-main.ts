/**
 * The primary of `--workers N` (node:cluster): loads and validates the configuration, accepts on
 * every TCP, HTTP and HTTPS listener and hands each connection to the worker that owns the client
 * IP, serves the admin API from the workers' answers, reloads on SIGHUP and drains on SIGTERM.
 * It never parses HTTP nor relays a byte. See docs/workers.md.
 */
import type { Socket } from "node:net";
import type { AdminSource } from "../admin/admin-server.js";
import type { ApiAnswer } from "../admin/bindings-api.js";
import { declareListenerUp } from "../admin/listener-metrics.js";
import { seriesOn } from "../admin/metric-series.js";
import { createMetricsRegistry } from "../admin/metrics.js";
import { systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import { clientIpKey } from "../core/member.js";
import { type ConfigModel, carriesToken } from "../core/model.js";
import { StickyError } from "../errors/codes.js";
import { resolveCookieKey } from "../runtime/cookie-key.js";
import { serveUntilStopped } from "../runtime/process-wiring.js";
import type { ReloadCounters } from "../runtime/runtime.js";
import { Acceptors } from "./acceptors.js";
import { aggregateMetrics, type MetricJson } from "./aggregate-metrics.js";
import { aggregateStatus, type WorkerStatus } from "./aggregate-status.js";
import type { ToWorker } from "./messages.js";
import { routeToSlot, workerSlotOf } from "./routing.js";
import { WorkerSet } from "./worker-set.js";

export interface PrimaryOptions {
  readonly workers: number;
  readonly initial: ConfigModel;
  /** Loads and validates the configuration files again (SIGHUP). */
  readonly load: () => { model?: ConfigModel; problems: string[] };
  readonly log: Logger;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly admin: { address: string; port: number } | "off";
  readonly adminToken?: string;
  readonly version: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `--watch`: starts watching the configuration, calling `reload` on a change. */
  readonly watch?: (reload: () => void) => readonly { close(): void }[];
}

/** How long a worker may take to apply a configuration (it binds UDP sockets, reads certificates). */
const APPLY_TIMEOUT_MS = 30_000;

/**
 * Resolves the HTTP_COOKIE key once here, before any worker starts: a generated key is written to
 * the state folder by this process alone, and every worker then reads the same file.
 */
function checkCookieKey(model: ConfigModel, options: PrimaryOptions): void {
  if (model.pools.some((p) => carriesToken(p.sessionPersistence))) {
    resolveCookieKey(model.cookieSecret, options.stateDir, options.env);
  }
}

/** Resolves with the exit code: 0 after a clean stop, 2 invalid cookie key, 1 another fatal error. */
export async function runPrimary(options: PrimaryOptions, err: NodeJS.WritableStream): Promise<number> {
  const { log } = options;
  try {
    checkCookieKey(options.initial, options);
  } catch (e) {
    if (!(e instanceof StickyError)) throw e;
    err.write(`${e.code}: ${e.message}\n`);
    return 2;
  }
  let current = options.initial;
  const reloads: ReloadCounters = { ok: 0, error: 0 };
  const startedAt = systemClock.now();
  let bound = false;

  const workers = new WorkerSet({
    count: options.workers,
    log,
    prepare: async (slot) => {
      await workers.query(slot, { op: "apply", model: current }, APPLY_TIMEOUT_MS);
    },
  });
  const acceptors = new Acceptors((bindKey, clientIp, socket: Socket, carried, leftover) => {
    const slot = routeToSlot(clientIp, workers.count, (s) => workers.isReady(s));
    if (slot === undefined) {
      socket.destroy();
      return;
    }
    const message: ToWorker = {
      kind: "connection",
      bindKey,
      ...(carried === undefined ? {} : { carried }),
      ...(leftover === undefined || leftover.length === 0 ? {} : { leftover: leftover.toString("base64") }),
    };
    workers.handOff(slot, message, socket);
  }, log);

  try {
    await workers.start();
    await acceptors.reconcile(current);
    bound = true;
  } catch (e) {
    log.fatal({ err: e }, "could not start");
    err.write(`stickylb: ${(e as Error).message}\n`);
    acceptors.close();
    await workers.stop(1000);
    return 1;
  }

  const everyWorker = async <T>(ask: (slot: number) => Promise<T>): Promise<(T | undefined)[]> => {
    const settled = await Promise.allSettled(Array.from({ length: workers.count }, (_, slot) => ask(slot)));
    return settled.map((r) => (r.status === "fulfilled" ? r.value : undefined));
  };
  const poolType = (pool: string) =>
    current.pools.find((p) => p.name === pool)?.sessionPersistence?.type ?? "none";
  /** SOURCE_IP tables are split by client IP; APP_COOKIE replicas may differ (local expiry): ask all. */
  const askBindings = async (op: "lookup" | "remove", pool: string, key: string): Promise<ApiAnswer> => {
    const q = { op: op === "lookup" ? ("lookup" as const) : ("delete" as const), pool, key };
    if (poolType(pool) !== "APP_COOKIE") {
      return (await workers.query(workerSlotOf(clientIpKey(key), workers.count), q)) as ApiAnswer;
    }
    const answers = (await everyWorker((slot) => workers.query(slot, q))) as (ApiAnswer | undefined)[];
    const found = answers.find((a) => a?.status === 200) ?? answers.find((a) => a !== undefined);
    if (found === undefined) throw new Error("no worker answered");
    return found;
  };

  const primaryRegistry = createMetricsRegistry(
    { ready: () => bound, reloads: () => reloads },
    options.version,
  );
  // The primary holds the TCP-family sockets: whether each is bound is its to say (the workers'
  // injected listeners always are); the aggregation takes the minimum.
  declareListenerUp(seriesOn(primaryRegistry), () => acceptors.listenersUp());
  const adminSource: AdminSource = {
    ready: () => bound && workers.allReady(),
    reloads: () => reloads,
    remote: {
      metrics: async () => {
        const own = (await primaryRegistry.getMetricsAsJSON()) as unknown as MetricJson[];
        const theirs = await everyWorker((slot) => workers.query(slot, { op: "metrics" }));
        const replicated = new Set(
          current.pools.filter((p) => p.sessionPersistence?.type === "APP_COOKIE").map((p) => p.name),
        );
        const all = [own, ...theirs.map((m) => (m ?? []) as MetricJson[])];
        return aggregateMetrics(all, replicated);
      },
      status: async () => {
        const docs = await everyWorker((slot) => workers.query(slot, { op: "status" }));
        return aggregateStatus(docs as (WorkerStatus | undefined)[], {
          portOf: (key) => acceptors.portOf(key),
          bindStateOf: (key) => acceptors.bindState(key),
          reloads,
          uptimeSeconds: (systemClock.now() - startedAt) / 1000,
          ready: bound && workers.allReady(),
        });
      },
      lookup: (pool, key) => askBindings("lookup", pool, key),
      remove: (pool, key) => askBindings("remove", pool, key),
      persistenceOf: poolType,
    },
  };

  let reloading = Promise.resolve();
  const reload = (): void => {
    reloading = reloading.then(async () => {
      const next = options.load();
      if (next.model === undefined) {
        reloads.error++;
        log.error(
          { problems: next.problems },
          "configuration reload refused; the running configuration stays",
        );
        return;
      }
      try {
        checkCookieKey(next.model, options);
      } catch (e) {
        reloads.error++;
        log.error({ err: e }, "configuration reload failed");
        return;
      }
      current = next.model;
      acceptors.closeRemoved(current);
      const applied = await Promise.allSettled(
        Array.from({ length: workers.count }, (_, slot) =>
          workers
            .query(slot, { op: "apply", model: current }, APPLY_TIMEOUT_MS)
            .then(() => workers.markReady(slot)),
        ),
      );
      const failed = applied.find((r): r is PromiseRejectedResult => r.status === "rejected");
      try {
        await acceptors.reconcile(current);
        if (failed !== undefined) throw failed.reason;
        reloads.ok++;
        log.info({ workers: workers.count }, "configuration reloaded");
      } catch (e) {
        reloads.error++;
        log.error({ err: e }, "configuration reload failed");
      }
    });
  };
  const watchers = options.watch?.(reload) ?? [];
  return serveUntilStopped({
    started: () =>
      log.info(
        {
          listeners: current.listeners.length,
          pools: current.pools.length,
          workers: workers.count,
          pids: workers.pids(),
        },
        "stickylb started",
      ),
    admin: options.admin,
    adminToken: options.adminToken,
    version: options.version,
    log,
    source: adminSource,
    // The connections are the workers' to count; the primary only hands them over.
    openConnections: () => 0,
    reload,
    stopData: async () => {
      acceptors.close();
      // Workers drain for up to the drain timeout; a little more before they are killed.
      await workers.stop(options.drainTimeoutMs + 2000);
    },
    closing: watchers,
  });
}
