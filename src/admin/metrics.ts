/**
 * GET /metrics (docs/reference/admin-api.md) through prom-client. Every series is read at scrape time from the
 * counters the data path keeps anyway (collect callbacks), so serving traffic never calls
 * prom-client. Labels are bounded: listener, pool and member names (`ADDRESS:PORT`), status codes
 * and fixed words; never a client address or a cookie value.
 */
import {
  type Aggregator,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Metric,
  type MetricValueWithName,
  Registry,
} from "prom-client";
import { FAULT_SITES } from "../data/fault-guard.js";
import { DURATION_BUCKETS } from "../data/proxy/request-durations.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import { registerDeclaredSeries } from "../store/prometheus-series.js";
import { StateStoreMetrics } from "../store/store-metrics.js";
import type { AdminSource } from "./admin-source.js";
import { replaceEventLoopDelayGauges } from "./event-loop-metrics.js";
import { listenerViews } from "./listener-view.js";

type Labels = Record<string, string | number>;
type Emit = (labels: Labels, value: number) => void;
type Fill = (emit: Emit) => void;

const memberLabels = (m: MemberRuntime): Labels => ({ pool: m.pool, member: m.endpoint });

/** A registry whose series are rebuilt from `source` on every scrape. */
export function createMetricsRegistry(source: AdminSource, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "stickylb_" });
  replaceEventLoopDelayGauges(registry, "stickylb_");

  const counter = (name: string, help: string, labelNames: string[], fill: Fill): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.inc(labels, value));
      },
    });
  };
  /**
   * `aggregator` says how `--workers` sums a gauge over worker processes (prom-client's
   * AggregatorRegistry; the default is a sum, right for counts of open things).
   */
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: Fill,
    aggregator?: Aggregator,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      ...(aggregator === undefined ? {} : { aggregator }),
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  };

  gauge(
    "stickylb_build_info",
    "Always 1; the version label says which stickylb runs.",
    ["version"],
    (emit) => emit({ version }, 1),
    "first",
  );

  const runtime = source.runtime;
  const reloads = () => runtime?.reloads ?? source.reloads?.();
  counter(
    "stickylb_config_reloads_total",
    "Configuration reloads (SIGHUP, file watch, Kubernetes change) by result.",
    ["result"],
    (emit) => {
      emit({ result: "ok" }, reloads()?.ok ?? 0);
      emit({ result: "error" }, reloads()?.error ?? 0);
    },
  );
  counter(
    "stickylb_config_errors_total",
    "Configuration errors: by object kind in controller mode; kind=file counts refused file reloads.",
    ["kind"],
    (emit) => {
      const errors = source.configErrors?.();
      if (errors === undefined) {
        emit({ kind: "file" }, reloads()?.error ?? 0);
        return;
      }
      for (const [kind, n] of errors) emit({ kind }, n);
    },
  );
  const leader = source.leader;
  if (leader !== undefined)
    gauge(
      "stickylb_leader",
      "Controller mode: 1 while this replica holds the leader election Lease (writes status and Events), else 0.",
      [],
      (emit) => emit({}, leader() ? 1 : 0),
    );
  if (runtime === undefined) return registry;

  const listeners = () => listenerViews(runtime.current, runtime.listeners);
  const pools = () => runtime.current.pools.values();
  const members = () => runtime.registry.all();

  counter(
    "stickylb_internal_errors_total",
    "Bugs contained on the data path: each ended one connection, flow or request (SLB_ERR_DATA_INTERNAL).",
    ["where"],
    (emit) => {
      for (const where of FAULT_SITES) emit({ where }, runtime.faults.bySite[where]);
    },
  );
  gauge(
    "stickylb_listener_up",
    "1 while the listener holds its socket, 0 while it cannot bind (port in use, permission denied; retried with backoff).",
    ["listener"],
    (emit) => {
      for (const v of listeners()) emit({ listener: v.model.name }, v.bound ? 1 : 0);
    },
    // With --workers, up only while every worker serves it (a sum would read N).
    "min",
  );
  counter(
    "stickylb_connections_total",
    "Client connections accepted (TCP, HTTP, HTTPS) or UDP flows opened, per listener.",
    ["listener"],
    (emit) => {
      for (const v of listeners()) emit({ listener: v.model.name }, v.connections);
      for (const [listener, n] of source.kernel?.connections() ?? []) emit({ listener }, n);
    },
  );
  counter(
    "stickylb_requests_total",
    "HTTP responses sent to clients; member is empty when stickylb answered itself (404, 502, 503).",
    ["listener", "pool", "member", "code"],
    (emit) => {
      for (const v of listeners()) {
        for (const r of v.requests) {
          emit({ listener: v.model.name, pool: r.pool, member: r.member, code: r.code }, r.count);
        }
      }
    },
  );
  gauge(
    "stickylb_listener_open_connections",
    "Open client connections (TCP, HTTP) or flows (UDP) per listener.",
    ["listener"],
    (emit) => {
      for (const v of listeners()) emit({ listener: v.model.name }, v.open);
    },
  );
  counter(
    "stickylb_bytes_in_total",
    "Bytes received from clients per listener (TCP and HTTP: counted when a connection closes).",
    ["listener"],
    (emit) => {
      for (const v of listeners()) emit({ listener: v.model.name }, v.bytesIn);
    },
  );
  counter(
    "stickylb_bytes_out_total",
    "Bytes sent to clients per listener (TCP and HTTP: counted when a connection closes).",
    ["listener"],
    (emit) => {
      for (const v of listeners()) emit({ listener: v.model.name }, v.bytesOut);
    },
  );
  counter(
    "stickylb_listener_events_total",
    "Data-path events per listener: no_member, connect_failure, retry, timeouts, refused requests.",
    ["listener", "event"],
    (emit) => {
      for (const v of listeners()) {
        for (const [event, n] of Object.entries(v.events)) emit({ listener: v.model.name, event }, n);
      }
    },
  );
  const budgets = () => [runtime.budgets.udpFlows, runtime.budgets.connections];
  gauge(
    "stickylb_limit",
    "Process-wide bound derived from the open-file limit: table=udp_flows (all UDP listeners) or connections (TCP, HTTP, HTTPS clients); 0 when the configuration has no listener of that kind.",
    ["table"],
    (emit) => {
      for (const b of budgets()) emit({ table: b.name }, b.max);
    },
  );
  gauge(
    "stickylb_limit_in_use",
    "Entries counted against each process-wide bound now.",
    ["table"],
    (emit) => {
      for (const b of budgets()) emit({ table: b.name }, b.inUse);
    },
  );
  counter(
    "stickylb_limit_reached_total",
    "New entries at a process-wide bound: action=evicted (the oldest idle UDP flow made room) or refused (closed or dropped at once).",
    ["table", "action"],
    (emit) => {
      for (const b of budgets()) {
        emit({ table: b.name, action: "evicted" }, b.evicted);
        emit({ table: b.name, action: "refused" }, b.refused);
      }
    },
  );
  gauge("stickylb_udp_flows", "Open UDP flows per listener.", ["listener"], (emit) => {
    for (const v of listeners()) if (v.udp !== undefined) emit({ listener: v.model.name }, v.open);
  });
  counter(
    "stickylb_udp_flows_closed_total",
    "UDP flows closed per listener by reason.",
    ["listener", "reason"],
    (emit) => {
      for (const v of listeners()) {
        const u = v.udp;
        if (u === undefined) continue;
        const name = v.model.name;
        emit({ listener: name, reason: "expired" }, u.flowsExpired);
        emit({ listener: name, reason: "evicted" }, u.flowsEvicted);
        emit({ listener: name, reason: "refused" }, u.flowsRefused);
        emit({ listener: name, reason: "redispatched" }, u.flowsRedispatched);
      }
    },
  );
  counter(
    "stickylb_udp_datagrams_total",
    "UDP datagrams per listener: in from clients, out to clients.",
    ["listener", "direction"],
    (emit) => {
      for (const v of listeners()) {
        if (v.udp === undefined) continue;
        emit({ listener: v.model.name, direction: "in" }, v.udp.datagramsIn);
        emit({ listener: v.model.name, direction: "out" }, v.udp.datagramsOut);
      }
    },
  );

  gauge(
    "stickylb_member_active_connections",
    "Open connections (L4) or in-flight requests (L7) per member.",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.active);
    },
  );
  counter(
    "stickylb_member_connections_total",
    "Connections (TCP), flows (UDP) or requests (HTTP) sent to each member.",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.total);
    },
  );
  // With workers, a member counts as up only where every worker sees it up.
  gauge(
    "stickylb_member_up",
    "1 when the member is healthy, else 0.",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.healthy ? 1 : 0);
    },
    "min",
  );
  gauge(
    "stickylb_member_weight",
    "Configured weight of each member (0–100).",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.weight);
    },
    "max",
  );
  gauge(
    "stickylb_member_draining",
    "1 while the member drains (terminating endpoint, or removed with connections open).",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.draining || m.removed ? 1 : 0);
    },
    "max",
  );
  counter(
    "stickylb_member_bytes_in_total",
    "L4 bytes sent to each member (TCP when a connection closes, UDP per datagram).",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.bytesIn);
    },
  );
  counter(
    "stickylb_member_bytes_out_total",
    "L4 bytes received from each member (TCP when a connection closes, UDP per datagram).",
    ["pool", "member"],
    (emit) => {
      for (const m of members()) emit(memberLabels(m), m.bytesOut);
    },
  );
  gauge(
    "stickylb_member_bindings",
    "Binding-table entries pointing at each member (pools with a table only).",
    ["pool", "member"],
    (emit) => {
      for (const p of pools()) {
        const table = p.bindings;
        if (table === undefined) continue;
        for (const m of p.members) emit(memberLabels(m), table.bindingsOf?.(m.id) ?? 0);
      }
    },
  );
  counter(
    "stickylb_health_checks_total",
    "Active health probes per member by result.",
    ["pool", "member", "result"],
    (emit) => {
      for (const c of runtime.health.probeCounts()) {
        emit({ ...memberLabels(c.member), result: "ok" }, c.ok);
        emit({ ...memberLabels(c.member), result: "fail" }, c.failed);
      }
    },
  );

  registry.registerMetric(requestDurationMetric(listeners) as unknown as Metric);
  counter(
    "stickylb_affinity_decisions_total",
    "Affinity decisions per pool with session persistence: hit, miss, expired, invalid, redispatch.",
    ["pool", "result"],
    (emit) => {
      for (const p of pools()) {
        if (p.model.sessionPersistence === undefined) continue;
        for (const [result, n] of Object.entries(p.counters.decisions)) emit({ pool: p.name, result }, n);
      }
    },
  );
  counter(
    "stickylb_no_member_total",
    "Clients turned away because no member was eligible (HTTP 503, TCP close, UDP drop), per pool.",
    ["pool"],
    (emit) => {
      for (const p of pools()) emit({ pool: p.name }, p.counters.noMember);
    },
  );
  gauge(
    "stickylb_bindings",
    "Entries in the pool's binding table (pools with a table only).",
    ["pool"],
    (emit) => {
      const kernel = source.kernel?.bindings() ?? new Map<string, number>();
      for (const p of pools())
        if (p.bindings !== undefined && !kernel.has(p.name)) emit({ pool: p.name }, p.bindings.size);
      for (const [pool, n] of kernel) emit({ pool }, n);
    },
  );
  // The state store's series, read from the store in effect at scrape time (a reload may replace
  // it); no samples while no store is configured.
  registerDeclaredSeries(
    registry,
    new StateStoreMetrics().series().map((declared) => ({
      ...declared,
      samples: () =>
        runtime.stateStore.current?.metrics
          .series()
          .find((s) => s.name === declared.name)
          ?.samples() ?? [],
    })),
  );
  return registry;
}

/**
 * `stickylb_request_duration_seconds{listener,pool}`: a histogram whose buckets the HTTP data path
 * counts itself (data/proxy/request-durations.ts), handed to prom-client as a metric of its own at
 * scrape time in the shape prom-client's Histogram produces, so the text format and the `--workers`
 * aggregation (summed per label set) are prom-client's. A prom-client Histogram would hash its
 * labels on every observe; this keeps the data path at one bucket scan per response.
 */
function requestDurationMetric(listeners: () => ReturnType<typeof listenerViews>) {
  const name = "stickylb_request_duration_seconds";
  const read = () => {
    const values: MetricValueWithName<string>[] = [];
    for (const v of listeners()) {
      for (const series of v.durations ?? []) {
        const labels = { listener: v.model.name, pool: series.pool };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += series.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", ...labels }, value: series.count });
        values.push({ metricName: `${name}_sum`, labels, value: series.sum });
        values.push({ metricName: `${name}_count`, labels, value: series.count });
      }
    }
    return {
      name,
      help: "HTTP request duration from the request head to the end of the response, per listener and pool.",
      type: "histogram",
      values,
      aggregator: "sum",
    };
  };
  return { name, get: async () => read(), reset() {}, aggregator: "sum" };
}
