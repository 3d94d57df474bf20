import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";
import type { SnapshotHolder } from "../core/snapshot-holder.js";
import type { FaultCounters } from "./fault-guard.js";
import type { ProcessBudgets } from "./limits/connection-budget.js";
import type { Snapshot } from "./snapshot.js";
import type { ConnectOutcomeSink } from "./upstream/failure-sink.js";
import type { MemberConnectionPools } from "./upstream/member-connections.js";

/** What every listener of the data path is given by the runtime. */
export interface DataPathContext {
  readonly holder: SnapshotHolder<Snapshot>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly outcomes: ConnectOutcomeSink;
  /** Bugs contained on the data path (`fault-guard.ts`), counted by site. */
  readonly faults: FaultCounters;
  /**
   * Keep-alive connections towards members (HTTP forwarding), owned by the runtime: it retains the
   * pools of the members a new snapshot keeps and destroys them all on stop.
   */
  readonly memberPools: MemberConnectionPools;
  /**
   * Worker process of `--workers N`: TCP, HTTP and HTTPS listeners do not bind; the primary accepts
   * and hands each connection over through the running listener's `accept`. Undefined: bind.
   */
  readonly injected?: boolean;
  /**
   * Process-wide bounds on UDP flows and client connections, derived from the open-file limit
   * (data/limits). Undefined (unit tests): only the per-listener bounds apply.
   */
  readonly budgets?: ProcessBudgets;
}
