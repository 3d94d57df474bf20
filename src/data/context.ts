import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";
import type { SnapshotHolder } from "../core/snapshot-holder.js";
import type { ProcessBudgets } from "./limits/connection-budget.js";
import type { RunningListener } from "./listener/running-listener.js";
import type { Snapshot } from "./snapshot.js";
import type { ConnectOutcomeSink } from "./upstream/failure-sink.js";

/** What every listener of the data path is given by the runtime. */
export interface DataPathContext {
  readonly holder: SnapshotHolder<Snapshot>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly outcomes: ConnectOutcomeSink;
  /**
   * Worker process of `--workers N`: TCP, HTTP and HTTPS listeners do not bind; the primary accepts
   * and hands each connection over through {@link RunningListener.accept}. Undefined: bind.
   */
  readonly injected?: boolean;
  /**
   * Process-wide bounds on UDP flows and client connections, derived from the open-file limit
   * (data/limits). Undefined (unit tests): only the per-listener bounds apply.
   */
  readonly budgets?: ProcessBudgets;
}
