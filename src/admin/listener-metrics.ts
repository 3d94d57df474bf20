/**
 * The listeners' series (docs/reference/admin-api.md), read at scrape time through what each
 * listener declares (`listener-view.ts`): contained data-path faults, bind state, connections,
 * requests, bytes, events, the process-wide bounds and the UDP flow tables. Connections of
 * listeners the kernel data plane serves are added from its last read.
 */
import { FAULT_SITES } from "../data/fault-guard.js";
import type { Runtime } from "../runtime/runtime.js";
import type { AdminSource } from "./admin-source.js";
import type { ListenerView } from "./listener-view.js";
import { emitEach, type SeriesDeclarer } from "./metric-series.js";

export function declareListenerSeries(
  { counter, gauge }: SeriesDeclarer,
  runtime: Runtime,
  listeners: () => Iterable<ListenerView>,
  source: AdminSource,
): void {
  counter(
    "stickylb_internal_errors_total",
    "Bugs contained on the data path: each ended one connection, flow or request (SLB_ERR_DATA_INTERNAL).",
    ["where"],
    (emit) => {
      for (const where of FAULT_SITES) emit({ where }, runtime.faults.bySite[where]);
    },
  );
  declareListenerUp({ gauge }, () => [...listeners()].map((v) => ({ listener: v.model.name, up: v.bound })));
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
        emitEach(emit, { listener: v.model.name }, "event", v.events);
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
      for (const b of budgets())
        emitEach(emit, { table: b.name }, "action", { evicted: b.evicted, refused: b.refused });
    },
  );
  // The UDP listeners with their flow tables' counts.
  function* udp() {
    for (const v of listeners())
      if (v.udp !== undefined) yield { listener: v.model.name, open: v.open, ...v.udp };
  }
  gauge("stickylb_udp_flows", "Open UDP flows per listener.", ["listener"], (emit) => {
    for (const { listener, open } of udp()) emit({ listener }, open);
  });
  counter(
    "stickylb_udp_flows_closed_total",
    "UDP flows closed per listener by reason.",
    ["listener", "reason"],
    (emit) => {
      for (const u of udp())
        emitEach(emit, { listener: u.listener }, "reason", {
          expired: u.flowsExpired,
          evicted: u.flowsEvicted,
          refused: u.flowsRefused,
          redispatched: u.flowsRedispatched,
        });
    },
  );
  counter(
    "stickylb_udp_datagrams_total",
    "UDP datagrams per listener: in from clients, out to clients.",
    ["listener", "direction"],
    (emit) => {
      for (const u of udp())
        emitEach(emit, { listener: u.listener }, "direction", { in: u.datagramsIn, out: u.datagramsOut });
    },
  );
}

/**
 * `stickylb_listener_up{listener}`, from whoever holds the sockets: the listener set in a process
 * that binds its listeners, the primary's acceptors for the TCP-family listeners of `--workers`.
 */
export function declareListenerUp(
  { gauge }: Pick<SeriesDeclarer, "gauge">,
  rows: () => Iterable<{ readonly listener: string; readonly up: boolean }>,
): void {
  gauge(
    "stickylb_listener_up",
    "1 while the listener holds its socket, 0 while it cannot bind (port in use, permission denied; retried with backoff).",
    ["listener"],
    (emit) => {
      for (const r of rows()) emit({ listener: r.listener }, r.up ? 1 : 0);
    },
    // With --workers, up only while the primary and every worker serve it (a sum would read N).
    "min",
  );
}
