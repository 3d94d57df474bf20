import {
  latencyOf,
  type StatusDocument,
  type StatusListener,
  type StatusMember,
  type StatusPool,
} from "../admin/status.js";
import type { BindState } from "../data/listener/bind-retry.js";
import { mergedCounts } from "../data/proxy/request-durations.js";
import { bindKeyOf } from "../data/snapshot.js";

/** A worker's status document, with the worker's process id. */
export type WorkerStatus = StatusDocument & { readonly pid: number };

export interface ClusterFacts {
  /** The port the primary bound for a listener's bind key (TCP family). */
  portOf(bindKey: string): number | undefined;
  /** Whether the primary holds a TCP-family listener's socket (undefined: a UDP listener, the workers'). */
  bindStateOf?(bindKey: string): BindState | undefined;
  readonly reloads: { ok: number; error: number };
  readonly uptimeSeconds: number;
  readonly ready: boolean;
}

/** Per worker: its process and how much it served (the observable that every worker is used). */
export interface WorkerSummary {
  readonly worker: number;
  readonly pid: number;
  readonly ready: boolean;
  readonly connections: number;
  readonly open: number;
}

const sumBy = <T>(items: readonly T[], f: (t: T) => number): number => items.reduce((n, t) => n + f(t), 0);

/**
 * One `/api/v1/status` document for the whole process group: worker 1's document (the only one
 * with UDP listeners and health-check views) with counts summed over workers. Bindings are summed
 * for SOURCE_IP tables, which are split by client IP; APP_COOKIE tables are replicas, so worker
 * 1's count stands for all. Shares and ratios are recomputed from the sums.
 */
export function aggregateStatus(
  docs: readonly (WorkerStatus | undefined)[],
  facts: ClusterFacts,
): StatusDocument & { workers: WorkerSummary[] } {
  const present = docs.filter((d): d is WorkerStatus => d !== undefined);
  const base = present[0];
  const workers = docs.map(
    (d, i): WorkerSummary => ({
      worker: i + 1,
      pid: d?.pid ?? 0,
      ready: d?.ready ?? false,
      connections: d === undefined ? 0 : sumBy(d.listeners, (l) => l.connections),
      open: d === undefined ? 0 : sumBy(d.listeners, (l) => l.open),
    }),
  );
  if (base === undefined) {
    return {
      listeners: [],
      pools: [],
      version: "",
      configVersion: 0,
      ready: false,
      uptimeSeconds: facts.uptimeSeconds,
      reloads: facts.reloads,
      stateStore: null,
      workers,
    };
  }
  const listeners = base.listeners.map((l) => aggregateListener(l, present, facts));
  const pools = base.pools.map((p) => aggregatePool(p, present));
  return {
    ...base,
    listeners,
    pools,
    ready: facts.ready && present.length === docs.length && present.every((d) => d.ready),
    uptimeSeconds: facts.uptimeSeconds,
    reloads: facts.reloads,
    // Each worker has its own connection to the store: up only while every one of them is.
    stateStore:
      base.stateStore === null || base.stateStore === undefined
        ? null
        : { url: base.stateStore.url, up: present.every((d) => d.stateStore?.up === true) },
    workers,
  };
}

function aggregateListener(
  l: StatusListener,
  docs: readonly WorkerStatus[],
  facts: ClusterFacts,
): StatusListener {
  const same = docs.flatMap((d) => d.listeners.filter((x) => x.name === l.name));
  const held = facts.bindStateOf?.(bindKeyOf(l));
  return {
    ...l,
    ...(held === undefined ? {} : { bound: held.bound, error: held.bound ? null : held.error }),
    port: facts.portOf(bindKeyOf(l)) ?? l.port,
    open: sumBy(same, (x) => x.open),
    connections: sumBy(same, (x) => x.connections),
    traffic: sumBy(same, (x) => x.traffic),
    rate: sumBy(same, (x) => x.rate),
    bytesIn: sumBy(same, (x) => x.bytesIn),
    bytesOut: sumBy(same, (x) => x.bytesOut),
    latency:
      l.latency === null
        ? null
        : latencyOf(
            mergedCounts(same.flatMap((x) => (x.latency === null ? [] : [{ counts: x.latency.buckets }]))),
          ),
  };
}

function aggregatePool(p: StatusPool, docs: readonly WorkerStatus[]): StatusPool {
  const same = docs.flatMap((d) => d.pools.filter((x) => x.name === p.name));
  const replicated = p.sessionPersistence === "APP_COOKIE";
  const decisions = { ...p.decisions };
  for (const key of Object.keys(decisions) as (keyof typeof decisions)[]) {
    decisions[key] = sumBy(same, (x) => x.decisions[key]);
  }
  const members = p.members.map((m): StatusMember => {
    const copies = same.flatMap((x) => x.members.filter((y) => y.endpoint === m.endpoint));
    return {
      ...m,
      activeConnections: sumBy(copies, (y) => y.activeConnections),
      bindings: replicated ? m.bindings : sumBy(copies, (y) => y.bindings),
      total: sumBy(copies, (y) => y.total),
      requestRate: sumBy(copies, (y) => y.requestRate),
    };
  });
  const bound = sumBy(members, (m) => m.bindings);
  const traffic = sumBy(members, (m) => m.total);
  const decided = Object.values(decisions).reduce((n, v) => n + v, 0);
  return {
    ...p,
    members: members.map((m) => ({
      ...m,
      bindingShare: !p.bindingTable || bound === 0 ? null : m.bindings / bound,
      trafficShare: traffic === 0 ? null : m.total / traffic,
    })),
    bindings: replicated ? p.bindings : sumBy(same, (x) => x.bindings),
    decisions,
    stickyHitRatio: decided === 0 ? null : decisions.hit / decided,
    noMember: sumBy(same, (x) => x.noMember),
    requestRate: sumBy(members, (m) => m.requestRate),
  };
}
