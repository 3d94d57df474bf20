import type { Algorithm, PersistenceType, Protocol } from "../core/model.js";
import type { AffinityResult } from "../data/affinity/resolver.js";
import { durationQuantile, mergedCounts } from "../data/proxy/request-durations.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import type { PoolRuntime } from "../data/upstream/pool-runtime.js";
import type { Runtime } from "../runtime/runtime.js";
import type { StateStoreView } from "../runtime/state-store-link.js";
import { type ListenerView, listenerViews, type TrafficUnit } from "./listener-view.js";
import type { RateTracker } from "./rates.js";

/** GET /api/v1/status (docs/reference/admin-api.md): the fields docs/reference/admin-api.md fixes, then extras for the dashboard. */
export interface StatusDocument {
  readonly listeners: StatusListener[];
  readonly pools: StatusPool[];
  readonly version: string;
  /** Configuration version: 1 at start, +1 per applied reload. */
  readonly configVersion: number;
  readonly ready: boolean;
  readonly uptimeSeconds: number;
  readonly reloads: { ok: number; error: number };
  /** The shared state store (URL with its password masked, and whether it answers); null without one. */
  readonly stateStore: StateStoreView | null;
}

export interface StatusListener {
  readonly name: string;
  readonly protocol: Protocol;
  readonly address: string;
  /** The bound port. */
  readonly port: number;
  /** False while the listener cannot bind its address and port (it is retried with backoff). */
  readonly bound: boolean;
  /** Why it cannot bind (e.g. `listen EADDRINUSE: address already in use 127.0.0.1:80`); null when bound. */
  readonly error: string | null;
  readonly pools: readonly string[];
  readonly accessLog: boolean;
  /** Open connections (TCP, HTTP) or flows (UDP). */
  readonly open: number;
  readonly connections: number;
  /** What `traffic` and `rate` count: HTTP responses, TCP connections, UDP datagrams. */
  readonly unit: TrafficUnit;
  readonly traffic: number;
  /** `unit` per second over the last few seconds. */
  readonly rate: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Affinity hits ÷ all affinity decisions of the listener's pools; null when none was made. */
  readonly stickyHitRatio: number | null;
  /**
   * HTTP: the p50 and p99 of request durations in seconds since start, estimated from the buckets
   * of `stickylb_request_duration_seconds` (null before the first response); null for TCP and UDP.
   */
  readonly latency: StatusLatency | null;
}

export interface StatusLatency {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly count: number;
  /** Responses per bucket of `stickylb_request_duration_seconds` (not cumulative; last: past 60 s). */
  readonly buckets: readonly number[];
}

/** p50 and p99 of per-bucket counts (also used to sum the buckets of several workers). */
export function latencyOf(buckets: readonly number[]): StatusLatency {
  return {
    p50: durationQuantile(buckets, 0.5),
    p99: durationQuantile(buckets, 0.99),
    count: buckets.reduce((n, c) => n + c, 0),
    buckets,
  };
}

export interface StatusMember {
  readonly address: string;
  readonly port: number;
  /** The member's name (native `name`, or the Pod's name in Kubernetes mode); null when none. */
  readonly name: string | null;
  readonly weight: number;
  readonly up: boolean;
  readonly draining: boolean;
  readonly activeConnections: number;
  /** Entries of the pool's binding table that point here (0 when the pool has no table). */
  readonly bindings: number;
  readonly endpoint: string;
  /** Healthy, weight > 0, not draining: may take new clients. */
  readonly eligible: boolean;
  /** Connections (L4) or requests (L7) ever sent here. */
  readonly total: number;
  /** `total` per second over the last few seconds. */
  readonly requestRate: number;
  /** This member's part of the pool's bindings (0–1); null when the pool has no table or no bindings. */
  readonly bindingShare: number | null;
  /** This member's part of the pool's traffic so far (0–1); null before any. */
  readonly trafficShare: number | null;
  readonly health: { monitor: string; failures: number; successes: number } | null;
}

export interface StatusPool {
  readonly name: string;
  readonly algorithm: Algorithm;
  /** The persistence type, or null. */
  readonly sessionPersistence: PersistenceType | null;
  readonly members: StatusMember[];
  readonly persistenceTimeoutMs: number | null;
  readonly cookieName: string | null;
  /** Whether the pool keeps a binding table (SOURCE_IP and APP_COOKIE persistence). */
  readonly bindingTable: boolean;
  /** Entries in the binding table (docs/reference/admin-api.md `stickylb_bindings`). */
  readonly bindings: number;
  readonly decisions: Readonly<Record<AffinityResult, number>>;
  readonly stickyHitRatio: number | null;
  /** Clients turned away for lack of an eligible member. */
  readonly noMember: number;
  readonly requestRate: number;
}

export const memberRateKey = (m: MemberRuntime): string => `m|${m.id}`;
export const listenerRateKey = (name: string): string => `l|${name}`;

/** Cumulative counts the rate tracker samples every second. */
export function trafficSample(runtime: Runtime): Map<string, number> {
  const values = new Map<string, number>();
  for (const m of runtime.registry.all()) values.set(memberRateKey(m), m.total);
  for (const v of listenerViews(runtime.current, runtime.listeners)) {
    values.set(listenerRateKey(v.model.name), v.traffic);
  }
  return values;
}

function hitRatio(decisions: readonly Readonly<Record<AffinityResult, number>>[]): number | null {
  let hits = 0;
  let all = 0;
  for (const d of decisions) {
    hits += d.hit;
    all += d.hit + d.miss + d.expired + d.invalid + d.redispatch;
  }
  return all === 0 ? null : hits / all;
}

function poolStatus(pool: PoolRuntime, runtime: Runtime, rates: RateTracker): StatusPool {
  const table = pool.bindings;
  const persistence = pool.model.sessionPersistence;
  const bindingsOf = (m: MemberRuntime): number => table?.bindingsOf?.(m.id) ?? 0;
  const boundTotal = pool.members.reduce((n, m) => n + bindingsOf(m), 0);
  const trafficTotal = pool.members.reduce((n, m) => n + m.total, 0);
  const members = pool.members.map((m): StatusMember => {
    const health = runtime.health.view(m.id);
    const bindings = bindingsOf(m);
    return {
      address: m.address,
      port: m.port,
      name: m.name ?? null,
      weight: m.weight,
      up: m.healthy,
      draining: m.draining || m.removed,
      activeConnections: m.active,
      bindings,
      endpoint: m.endpoint,
      eligible: m.eligible,
      total: m.total,
      requestRate: rates.rate(memberRateKey(m)),
      bindingShare: table === undefined || boundTotal === 0 ? null : bindings / boundTotal,
      trafficShare: trafficTotal === 0 ? null : m.total / trafficTotal,
      health:
        health === undefined
          ? null
          : { monitor: health.monitor, failures: health.failures, successes: health.successes },
    };
  });
  return {
    name: pool.name,
    algorithm: pool.model.algorithm,
    sessionPersistence: persistence?.type ?? null,
    members,
    persistenceTimeoutMs: persistence?.persistenceTimeoutMs ?? null,
    cookieName: persistence?.type === "SOURCE_IP" ? null : (persistence?.cookieName ?? null),
    bindingTable: table !== undefined,
    bindings: table?.size ?? 0,
    decisions: { ...pool.counters.decisions },
    stickyHitRatio: hitRatio([pool.counters.decisions]),
    noMember: pool.counters.noMember,
    requestRate: members.reduce((n, m) => n + m.requestRate, 0),
  };
}

function listenerStatus(v: ListenerView, runtime: Runtime, rates: RateTracker): StatusListener {
  const decisions = v.pools.flatMap((name) => {
    const pool = runtime.current.pools.get(name);
    return pool === undefined || pool.model.sessionPersistence === undefined ? [] : [pool.counters.decisions];
  });
  return {
    name: v.model.name,
    protocol: v.model.protocol,
    address: v.model.address,
    port: v.port,
    bound: v.bound,
    error: v.bindError,
    pools: v.pools,
    accessLog: v.model.accessLog,
    open: v.open,
    connections: v.connections,
    unit: v.unit,
    traffic: v.traffic,
    rate: rates.rate(listenerRateKey(v.model.name)),
    bytesIn: v.bytesIn,
    bytesOut: v.bytesOut,
    stickyHitRatio: hitRatio(decisions),
    latency:
      v.model.protocol === "HTTP" || v.model.protocol === "HTTPS"
        ? latencyOf(mergedCounts(v.durations ?? []))
        : null,
  };
}

export function buildStatus(
  runtime: Runtime,
  rates: RateTracker,
  version: string,
  uptimeSeconds: number,
): StatusDocument {
  const snapshot = runtime.current;
  return {
    listeners: listenerViews(snapshot, runtime.listeners).map((v) => listenerStatus(v, runtime, rates)),
    pools: [...snapshot.pools.values()].map((p) => poolStatus(p, runtime, rates)),
    version,
    configVersion: snapshot.version,
    ready: runtime.isReady(),
    uptimeSeconds,
    reloads: { ok: runtime.reloads.ok, error: runtime.reloads.error },
    stateStore: runtime.stateStore.view ?? null,
  };
}
