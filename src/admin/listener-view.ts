import type { ListenerModel } from "../core/model.js";
import type { ListenerReport, TrafficUnit } from "../data/listener/listener-report.js";
import type { ListenerSet } from "../data/listener/listener-set.js";
import type { Snapshot } from "../data/snapshot.js";

export type { TrafficUnit };

/**
 * A listener with the counters it declares (`RunningListener.report`), so that metrics, status and
 * the dashboard never switch on the protocol. Read at scrape time; nothing here is on the data path.
 */
export interface ListenerView extends ListenerReport {
  readonly model: ListenerModel;
  /** The bound port (differs from the model's only when it asked for port 0). */
  readonly port: number;
  /** Open connections (TCP, HTTP) or flows (UDP). */
  readonly open: number;
  /** Pools the listener sends to (default pool first, then rule pools). */
  readonly pools: readonly string[];
  /** Whether the listener holds its socket; false while it cannot bind (and is retried). */
  readonly bound: boolean;
  /** Why it cannot bind (the system's message); null when bound. */
  readonly bindError: string | null;
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
    const state = set.bindState(model);
    const base = {
      model,
      bound: state?.bound === true,
      bindError: state === undefined || state.bound ? null : state.error,
      port: running?.port ?? model.port,
      open: running?.openCount() ?? 0,
      pools: poolsOf(model),
    };
    const report = running?.report();
    if (report !== undefined) {
      views.push({ ...base, ...report });
      continue;
    }
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
  return views;
}
