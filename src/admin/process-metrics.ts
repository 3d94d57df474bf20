/**
 * The process's own series (docs/reference/admin-api.md): which build runs, configuration reloads
 * and errors, and in controller mode whether this replica leads. They answer with or without a
 * runtime (the primary of `--workers` has none).
 */
import type { AdminSource } from "./admin-source.js";
import type { SeriesDeclarer } from "./metric-series.js";

export function declareProcessSeries(
  { counter, gauge }: SeriesDeclarer,
  source: AdminSource,
  version: string,
): void {
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
}
