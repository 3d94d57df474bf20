/**
 * A process-wide count of one kind of descriptor-holding entry (UDP flows, client connections)
 * against its bound. Listeners ask before they open an entry and give it back when it closes; at
 * the bound the caller evicts (UDP: its oldest idle flow) or refuses (TCP: closes the new
 * connection at once). Reaching the bound is logged once at warn level, and once more when use
 * has fallen back by a tenth of it (at least two entries, so that evicting one entry to admit
 * another never counts as clearing): a flood yields two log lines, not one per datagram.
 */
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { descriptorBounds, type ListenerKinds, readNofileLimit } from "./process-limits.js";

/** What the budget counts; the `table` label of the limit metrics. */
export type BudgetName = "udp_flows" | "connections";

/** The code of the two log lines (docs/errors.md). */
const LIMIT_CODE = "SLB_ERR_DATA_LIMIT";

export class ConnectionBudget {
  /** Entries open now, over every listener of the process. */
  inUse = 0;
  /** Entries evicted to make room at the bound. */
  evicted = 0;
  /** New entries refused at the bound. */
  refused = 0;
  private limited = false;
  /** Use at or below which a reached limit counts as cleared. */
  private clearAt = 0;
  private bound = 0;

  constructor(
    readonly name: BudgetName,
    max: number,
    private readonly log: Logger | undefined,
  ) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`${name} bound must be an integer >= 1, got ${max}`);
    this.resize(max);
  }

  /** The bound now (0 while the configuration has no listener of this kind). */
  get max(): number {
    return this.bound;
  }

  /**
   * A new bound, when the configuration's kinds of listeners change. Entries open beyond a smaller
   * bound stay until they close; new ones are refused (or evict) until use is below it.
   */
  resize(max: number): void {
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`${this.name} bound must be an integer >= 0, got ${max}`);
    this.bound = max;
    this.clearAt = max - 1 - Math.max(1, Math.floor(max / 10));
  }

  /** True while the last acquire found the bound reached and use has not fallen back since. */
  get atLimit(): boolean {
    return this.limited;
  }

  /** Takes one entry; false at the bound (the caller then evicts and retries, or refuses). */
  tryAcquire(): boolean {
    if (this.inUse < this.bound) {
      this.inUse++;
      return true;
    }
    if (!this.limited) {
      this.limited = true;
      this.log?.warn(
        { code: LIMIT_CODE, table: this.name, limit: this.bound },
        `${this.name} limit reached: new entries now evict the oldest idle one or are refused (derived from the open-file limit)`,
      );
    }
    return false;
  }

  /** Gives one entry back. */
  release(): void {
    if (this.inUse > 0) this.inUse--;
    if (this.limited && this.inUse <= this.clearAt) {
      this.limited = false;
      this.log?.warn(
        { code: LIMIT_CODE, table: this.name, limit: this.bound, inUse: this.inUse },
        `${this.name} limit cleared`,
      );
    }
  }
}

/** The budgets of one process, shared by all its listeners through the data-path context. */
export interface ProcessBudgets {
  readonly udpFlows: ConnectionBudget;
  readonly connections: ConnectionBudget;
  /** The open-file limit the bounds were derived from, and where it was read. */
  readonly nofile: number;
  readonly nofileSource: string;
}

/**
 * The budgets of a process with `nofile` descriptors (by default, read from the kernel), split as
 * for a configuration with both kinds of listeners until the first `fitBudgets`.
 */
export function createProcessBudgets(
  log: Logger | undefined,
  limit: { nofile: number; source: string } = readNofileLimit(),
): ProcessBudgets {
  const bounds = descriptorBounds(limit.nofile);
  log?.info(
    { nofile: limit.nofile, from: limit.source, udpFlows: bounds.udpFlows, connections: bounds.connections },
    "descriptor bounds derived from the open-file limit",
  );
  return {
    udpFlows: new ConnectionBudget("udp_flows", bounds.udpFlows, log),
    connections: new ConnectionBudget("connections", bounds.connections, log),
    nofile: limit.nofile,
    nofileSource: limit.source,
  };
}

/**
 * Splits the process's descriptors between the kinds of listeners the configuration has (the
 * runtime calls it at every apply, before listeners bind); logs the new bounds when they change.
 */
export function fitBudgets(budgets: ProcessBudgets, kinds: ListenerKinds, log: Logger | undefined): void {
  const next = descriptorBounds(budgets.nofile, kinds);
  if (next.udpFlows === budgets.udpFlows.max && next.connections === budgets.connections.max) return;
  budgets.udpFlows.resize(next.udpFlows);
  budgets.connections.resize(next.connections);
  log?.info(
    { nofile: budgets.nofile, udpFlows: next.udpFlows, connections: next.connections },
    "descriptor bounds follow the configuration's listeners",
  );
}

/**
 * Counts an accepted client socket against the connection budget until it closes. At the bound
 * the socket is closed at once and counted as refused (the clients already connected keep being
 * served); returns false then. No budget (unit tests): always admitted.
 */
export function admitSocket(budget: ConnectionBudget | undefined, socket: Socket): boolean {
  if (budget === undefined) return true;
  if (!budget.tryAcquire()) {
    budget.refused++;
    socket.destroy();
    return false;
  }
  socket.once("close", () => budget.release());
  return true;
}
