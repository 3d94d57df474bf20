/**
 * The members' series (docs/reference/admin-api.md), labelled by pool and member address: open
 * and total connections, health, weight, drain state, L4 bytes, bindings that point at each
 * member, and the active health probes by result. With `--workers`, the aggregator of each gauge
 * says how the primary joins the workers' values.
 */
import type { Runtime } from "../runtime/runtime.js";
import { emitEach, memberLabels, type SeriesDeclarer } from "./metric-series.js";

export function declareMemberSeries({ counter, gauge }: SeriesDeclarer, runtime: Runtime): void {
  const pools = () => runtime.current.pools.values();
  const members = () => runtime.registry.all();
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
        emitEach(emit, memberLabels(c.member), "result", { ok: c.ok, fail: c.failed });
      }
    },
  );
}
