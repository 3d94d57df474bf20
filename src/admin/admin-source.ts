import type { Runtime } from "../control/runtime.js";

/** What the admin API reads of the running process. */
export interface AdminSource {
  /** True once every listener of the current configuration is bound. */
  ready(): boolean;
  /** The running load balancer; without it only `/healthz` and `/readyz` answer. */
  readonly runtime?: Runtime;
  /** Configuration errors by kind (controller mode: `stickylb_config_errors_total{kind}`). */
  configErrors?(): ReadonlyMap<string, number>;
}

/** The admin source of a runtime: `run`, `run --kubernetes` and `demo` all use this. */
export function runtimeAdminSource(
  runtime: Runtime,
  configErrors?: () => ReadonlyMap<string, number>,
): AdminSource {
  return {
    ready: () => runtime.isReady(),
    runtime,
    ...(configErrors === undefined ? {} : { configErrors }),
  };
}
