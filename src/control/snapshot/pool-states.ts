import type { Clock } from "../../core/clock.js";
import type { PoolModel, SessionPersistence } from "../../core/model.js";
import { type BindingStore, BindingTable } from "../../data/affinity/binding-table.js";
import { createPolicy } from "../../data/balancer/registry.js";
import { PoolCounters, type PoolState } from "../../data/upstream/pool-runtime.js";

/** Binding tables exist for the persistence types that remember keys in this process. */
function needsTable(pool: PoolModel): boolean {
  const type = pool.sessionPersistence?.type;
  return type === "SOURCE_IP" || type === "APP_COOKIE";
}

/** What, when it changes, makes a pool's state start over (a new table, a new policy). */
function fingerprintOf(pool: PoolModel): string {
  const p = pool.sessionPersistence;
  return [pool.algorithm, p?.type ?? "", p?.persistenceTimeoutMs ?? "", p?.maxBindings ?? ""].join("|");
}

/**
 * Long-lived pool state by pool name: a reload that keeps a pool's algorithm and persistence keeps
 * its bindings, round-robin position and counters (SPEC 6.8). Counters survive even a change.
 */
/**
 * Wraps a pool's new binding table; `--workers` uses it to replicate APP_COOKIE bindings between
 * worker processes. Absent (the default), tables are used as they are.
 */
export type BindingStoreWrapper = (pool: PoolModel, table: BindingStore) => BindingStore;

export class PoolStates {
  private readonly states = new Map<string, PoolState>();

  constructor(
    private readonly clock: Clock,
    private readonly wrap?: BindingStoreWrapper,
  ) {}

  stateFor(pool: PoolModel): PoolState {
    const fingerprint = fingerprintOf(pool);
    const existing = this.states.get(pool.name);
    if (existing?.fingerprint === fingerprint) return existing;
    const persistence = pool.sessionPersistence;
    const state: PoolState = {
      fingerprint,
      policy: createPolicy(pool.algorithm),
      bindings: persistence !== undefined && needsTable(pool) ? this.tableFor(pool, persistence) : undefined,
      counters: existing?.counters ?? new PoolCounters(),
    };
    this.states.set(pool.name, state);
    return state;
  }

  private tableFor(pool: PoolModel, persistence: SessionPersistence): BindingStore {
    const table = new BindingTable({
      ttlMs: persistence.persistenceTimeoutMs,
      maxEntries: persistence.maxBindings,
      clock: this.clock,
    });
    return this.wrap === undefined ? table : this.wrap(pool, table);
  }

  get(name: string): PoolState | undefined {
    return this.states.get(name);
  }

  /** Forgets pools that are no longer configured. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.states.keys()) if (!names.has(name)) this.states.delete(name);
  }

  all(): IterableIterator<[string, PoolState]> {
    return this.states.entries();
  }
}
