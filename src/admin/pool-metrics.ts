/**
 * The pools' series (docs/reference/admin-api.md): affinity decisions, clients turned away for
 * want of a member, binding-table sizes (from the kernel's sets for pools it serves) and what
 * the in-process tables removed.
 */
import type { Runtime } from "../runtime/runtime.js";
import type { AdminSource } from "./admin-source.js";
import { emitEach, type SeriesDeclarer } from "./metric-series.js";

export function declarePoolSeries(
  { counter, gauge }: SeriesDeclarer,
  runtime: Runtime,
  source: AdminSource,
): void {
  const pools = () => runtime.current.pools.values();
  counter(
    "stickylb_affinity_decisions_total",
    "Affinity decisions per pool with session persistence: hit, miss, expired, invalid, redispatch.",
    ["pool", "result"],
    (emit) => {
      for (const p of pools()) {
        if (p.model.sessionPersistence === undefined) continue;
        emitEach(emit, { pool: p.name }, "result", p.counters.decisions);
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
  counter(
    "stickylb_binding_table_removals_total",
    "Entries an in-process binding table removed, per pool: reason=expired (idle past the persistence timeout) or evicted (the oldest, at maxBindings).",
    ["pool", "reason"],
    (emit) => {
      for (const r of runtime.poolStates.tableRemovals()) {
        emitEach(emit, { pool: r.pool }, "reason", { expired: r.expired, evicted: r.evicted });
      }
    },
  );
}
