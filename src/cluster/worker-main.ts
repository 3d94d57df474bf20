/**
 * A worker of `--workers N`: the normal Runtime, whose TCP-family listeners take the connections
 * the primary hands over instead of binding. Worker 1 (slot 0) also runs the UDP listeners and the
 * active health checks, and broadcasts health; the others apply it. See docs/workers.md.
 */
import type { Socket } from "node:net";
import { runtimeAdminSource } from "../admin/admin-source.js";
import { deleteBindingShared, lookupBindingShared } from "../admin/bindings-api.js";
import { createMetricsRegistry } from "../admin/metrics.js";
import { RateTracker } from "../admin/rates.js";
import { buildStatus, trafficSample } from "../admin/status.js";
import { systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { ConfigModel } from "../core/model.js";
import type { BindingStore } from "../data/affinity/binding-table.js";
import { Runtime } from "../runtime/runtime.js";
import type { HealthEntry, Query, ToPrimary, ToWorker } from "./messages.js";
import { ReplicatedBindingStore } from "./replicated-bindings.js";

export interface WorkerOptions {
  readonly slot: number;
  readonly log: Logger;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly version: string;
}

/** Worker 1 keeps the UDP listeners: a flow table cannot be split between processes. */
export function modelForSlot(model: ConfigModel, slot: number): ConfigModel {
  return slot === 0 ? model : { ...model, listeners: model.listeners.filter((l) => l.protocol !== "UDP") };
}

function send(message: ToPrimary): void {
  if (process.connected) process.send?.(message);
}

/** Runs until the primary says stop (or the process gets SIGTERM/SIGINT); resolves with the exit code. */
export function runWorker(options: WorkerOptions): Promise<number> {
  const { slot, log } = options;
  const prober = slot === 0;
  const runtime = new Runtime({
    clock: systemClock,
    log,
    drainTimeoutMs: options.drainTimeoutMs,
    stateDir: options.stateDir,
    injectConnections: true,
    wrapBindings: (pool, table): BindingStore =>
      pool.sessionPersistence?.type === "APP_COOKIE"
        ? new ReplicatedBindingStore(table, (key, member) =>
            send({ kind: "binding", pool: pool.name, key, member }),
          )
        : table,
  });
  if (prober) {
    runtime.registry.onHealthChange((member, healthy, reason) =>
      send({ kind: "health", full: false, entries: [[member.id, healthy, reason]] }),
    );
  } else {
    // Probing N times would multiply the load on members; worker 1 probes and tells the others.
    runtime.health.stop();
    runtime.setConnectOutcomeSink({
      connectFailed: (member, reason) => send({ kind: "passive", member: member.id, reason }),
      connectSucceeded: () => {},
    });
  }

  const startedAt = systemClock.now();
  const registry = createMetricsRegistry(runtimeAdminSource(runtime), options.version);
  const rates = new RateTracker(systemClock);
  const sampler = setInterval(() => rates.sample(trafficSample(runtime)), 1000);
  sampler.unref();

  const answer = async (query: Query): Promise<unknown> => {
    switch (query.op) {
      case "apply": {
        await runtime.apply(modelForSlot(query.model, slot));
        rates.sample(trafficSample(runtime));
        if (prober) {
          const entries: HealthEntry[] = [];
          for (const m of runtime.registry.all()) entries.push([m.id, m.healthy, "worker 1"]);
          send({ kind: "health", full: true, entries });
        }
        return runtime.current.version;
      }
      case "metrics":
        return registry.getMetricsAsJSON();
      case "status":
        return {
          pid: process.pid,
          ...buildStatus(runtime, rates, options.version, (systemClock.now() - startedAt) / 1000),
        };
      case "lookup":
        return lookupBindingShared(runtime, query.pool, query.key, systemClock.now());
      case "delete":
        return deleteBindingShared(runtime, query.pool, query.key);
    }
  };

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ why, open: runtime.listeners.openCount() }, "worker stopping: draining open connections");
      clearInterval(sampler);
      void runtime.stop().then(() => {
        log.info("worker stopped");
        resolve(0);
      });
    };

    process.on("message", (message: ToWorker, handle?: unknown) => {
      switch (message.kind) {
        case "connection": {
          const socket = handle as Socket | undefined;
          if (socket === undefined) return;
          const leftover =
            message.leftover === undefined ? undefined : Buffer.from(message.leftover, "base64");
          if (!runtime.listeners.accept(message.bindKey, socket, message.carried, leftover)) {
            log.debug(
              { bindKey: message.bindKey },
              "connection for a listener this worker does not run; closed",
            );
            socket.destroy();
            return;
          }
          return;
        }
        case "binding": {
          const table = runtime.poolStates.get(message.pool)?.bindings;
          if (table instanceof ReplicatedBindingStore) table.applyRemote(message.key, message.member);
          return;
        }
        case "health":
          for (const [id, healthy, reason] of message.entries)
            runtime.registry.setHealthy(id, healthy, reason);
          return;
        case "passive": {
          const member = runtime.registry.get(message.member);
          if (member !== undefined) runtime.health.connectFailed(member, message.reason);
          return;
        }
        case "stop":
          stop("primary");
          return;
        case "query":
          answer(message).then(
            (value) => send({ kind: "reply", id: message.id, ok: true, value }),
            (err: unknown) =>
              send({
                kind: "reply",
                id: message.id,
                ok: false,
                error: (err as Error).message ?? String(err),
              }),
          );
          return;
      }
    });
    send({ kind: "hello" });
    // The primary decides about reloads; a hangup of the terminal must not kill a worker.
    process.on("SIGHUP", () => {});
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // The primary is gone (crashed or killed): nothing will route here any more.
    process.once("disconnect", () => stop("primary gone"));
  });
}
