import type { ListenerModel } from "../core/model.js";
import type { ListenerSet } from "../data/listener/listener-set.js";
import { HttpListenerCounters, type RequestCount } from "../data/proxy/http-counters.js";
import { TcpListenerCounters } from "../data/proxy/tcp-proxy.js";
import { UdpListenerCounters } from "../data/proxy/udp-flows.js";
import type { Snapshot } from "../data/snapshot.js";

/** What one unit of a listener's traffic is: an HTTP response, a TCP connection, a UDP datagram. */
export type TrafficUnit = "requests" | "connections" | "datagrams";

/**
 * The three protocols' counters seen through one shape, so that metrics, status and the dashboard
 * do not each switch on the protocol. Read at scrape time; nothing here is on the data path.
 */
export interface ListenerView {
  readonly model: ListenerModel;
  /** The bound port (differs from the model's only when it asked for port 0). */
  readonly port: number;
  /** Open connections (TCP, HTTP) or flows (UDP). */
  readonly open: number;
  /** Client connections accepted (TCP, HTTP) or flows opened (UDP). */
  readonly connections: number;
  readonly unit: TrafficUnit;
  /** Cumulative count of `unit`: the base of the request rate. */
  readonly traffic: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Counted data-path events by name (errors, retries, timeouts), for `stickylb_listener_events_total`. */
  readonly events: Readonly<Record<string, number>>;
  /** HTTP: the rows of `stickylb_requests_total`. */
  readonly requests: readonly RequestCount[];
  /** UDP only. */
  readonly udp?: UdpListenerCounters;
  /** Pools the listener sends to (default pool first, then rule pools). */
  readonly pools: readonly string[];
}

function poolsOf(model: ListenerModel): string[] {
  const names = new Set<string>();
  if (model.defaultPool !== undefined) names.add(model.defaultPool);
  for (const r of model.rules) names.add(r.pool);
  return [...names];
}

/** The listeners of the current snapshot in configuration order, with their counters. */
export function listenerViews(snapshot: Snapshot, set: ListenerSet): ListenerView[] {
  const views: ListenerView[] = [];
  for (const model of snapshot.model.listeners) {
    const running = set.get(model);
    const base = {
      model,
      port: running?.port ?? model.port,
      open: running?.openCount() ?? 0,
      pools: poolsOf(model),
    };
    const c = running?.counters;
    if (c instanceof HttpListenerCounters) {
      views.push({
        ...base,
        connections: c.connections,
        unit: "requests",
        traffic: c.totalResponses,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        events: {
          no_route: c.noRoute,
          no_member: c.noMember,
          connect_failure: c.connectFailures,
          reset: c.resets,
          retry: c.retries,
          bad_gateway: c.badGateway,
          member_timeout: c.memberTimeouts,
          response_abort: c.responseAborts,
          malformed: c.malformed,
          header_too_large: c.headerTooLarge,
          client_timeout: c.clientTimeouts,
          upgrade: c.upgrades,
        },
        requests: [...c.requests()],
      });
    } else if (c instanceof UdpListenerCounters) {
      views.push({
        ...base,
        connections: c.flowsOpened,
        unit: "datagrams",
        traffic: c.datagramsIn,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        events: {
          no_member: c.noMember,
          drop: c.drops,
          evicted_at_limit: c.flowsEvictedAtLimit,
          refused_at_limit: c.flowsRefusedAtLimit,
          internal_error: c.internalErrors,
        },
        requests: [],
        udp: c,
      });
    } else if (c instanceof TcpListenerCounters) {
      views.push({
        ...base,
        connections: c.connections,
        unit: "connections",
        traffic: c.connections,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        events: {
          no_member: c.noMember,
          connect_failure: c.connectFailures,
          retry: c.retries,
          idle_timeout: c.idleTimeouts,
          proxy_header_rejected: c.proxyHeaderRejected,
        },
        requests: [],
      });
    } else {
      views.push({
        ...base,
        connections: 0,
        unit: model.protocol === "UDP" ? "datagrams" : model.protocol === "TCP" ? "connections" : "requests",
        traffic: 0,
        bytesIn: 0,
        bytesOut: 0,
        events: {},
        requests: [],
      });
    }
  }
  return views;
}
