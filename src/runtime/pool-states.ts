import { getHeapStatistics } from "node:v8";
import type { Clock } from "../core/clock.js";
import type { PoolModel, SessionPersistence } from "../core/model.js";
import { type BindingStore, BindingTable, type TableRemovals } from "../data/affinity/binding-table.js";
import { createPolicy } from "../data/balancer/registry.js";
import { PoolCounters, type PoolState } from "../data/upstream/pool-runtime.js";

/**
 * Heap bytes one binding may cost: the table measures 125–175 B per entry at 1,000,000 entries, churn
 * included (docs/affinity.md, "Memory"); 200 B leaves room for the key of an APP_COOKIE value.
 */
export const BYTES_PER_BINDING = 200;
/** The share of V8's heap limit that one binding table may fill, so that a full table never ends the process. */
export const BINDING_HEAP_SHARE = 0.5;

/**
 * The most entries a binding table may hold in this process: `maxBindings` is capped by memory, so
 * that the default of 1,000,000 (about 200 MB) cannot exhaust a small heap (`--max-old-space-size`,
 * a container's memory limit, which sets Node's heap limit).
 */
export function bindingMemoryCap(heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.max(1000, Math.floor((heapLimitBytes * BINDING_HEAP_SHARE) / BYTES_PER_BINDING));
}

/** Binding tables exist for the persistence types that remember keys in this process. */
function needsTable(pool: PoolModel): boolean {
  const type = pool.sessionPersistence?.type;
  return type === "SOURCE_IP" || type === "APP_COOKIE";
}

/**
 * What, when it changes, makes a pool's state start over (a new table, a new policy): the pool's
 * algorithm and persistence, and for sticky pools which shared store (if any) holds their bindings.
 */
function fingerprintOf(pool: PoolModel, storeGeneration: number): string {
  const p = pool.sessionPersistence;
  const shared = needsTable(pool) ? storeGeneration : 0;
  return [pool.algorithm, p?.type ?? "", p?.persistenceTimeoutMs ?? "", p?.maxBindings ?? "", shared].join(
    "|",
  );
}

/**
 * A store that shares bindings with other replicas (docs/shared-state.md): one binding store per
 * pool, a cache in front of the shared one. Implemented by the state store's `bindings`.
 */
export interface SharedBindings {
  pool(
    name: string,
    options: { ttlMs: number; maxEntries: number; kind: "SOURCE_IP" | "APP_COOKIE"; clock?: Clock },
  ): BindingStore & TableRemovals;
  /** Forgets the pools no longer configured. */
  retainPools(names: ReadonlySet<string>): void;
}

/**
 * Long-lived pool state by pool name: a reload that keeps a pool's algorithm and persistence keeps
 * its bindings, round-robin position and counters. Counters survive even a change.
 *
 * With a shared store ({@link PoolStates.share}) SOURCE_IP and APP_COOKIE pools take their
 * bindings from it instead of an in-process table; the pool sees only the {@link BindingStore}
 * interface either way.
 */
/**
 * Wraps a pool's new binding table; `--workers` uses it to replicate APP_COOKIE bindings between
 * worker processes. Absent (the default), tables are used as they are.
 */
export type BindingStoreWrapper = (pool: PoolModel, table: BindingStore) => BindingStore;

/** Pool states worked out for a configuration, not yet registered (see {@link PoolStates.plan}). */
export interface PoolStatePlan {
  readonly states: ReadonlyMap<string, PoolState>;
  commit(): void;
}

export class PoolStates {
  private readonly states = new Map<string, PoolState>();
  private shared: SharedBindings | undefined;
  /** Changes with the shared store, so that sticky pools start over on the new one. */
  private storeGeneration = 0;
  /**
   * The in-process table behind each pool's binding store (wrapped or not, or a shared store's
   * local cache), for its removal counts.
   */
  private readonly tables = new WeakMap<BindingStore, TableRemovals>();

  constructor(
    private readonly clock: Clock,
    private readonly wrap?: BindingStoreWrapper,
    /** The bound memory puts on every table ({@link bindingMemoryCap}); injectable for tests. */
    private readonly memoryCap: number = bindingMemoryCap(),
  ) {}

  /**
   * From the next plan on, sticky pools keep their bindings in `shared` (undefined: in-process
   * tables again). Their states start over, since their bindings now live elsewhere.
   */
  share(shared: SharedBindings | undefined): () => void {
    const before = { shared: this.shared, generation: this.storeGeneration };
    if (shared !== this.shared) {
      this.shared = shared;
      this.storeGeneration++;
    }
    // Undo (a refused configuration): the states already registered match the old store again.
    return () => {
      this.shared = before.shared;
      this.storeGeneration = before.generation;
    };
  }

  /** The state of `pool`, kept or started over, registered at once (tests and single pools). */
  stateFor(pool: PoolModel): PoolState {
    const state = this.wanted(pool);
    this.states.set(pool.name, state);
    return state;
  }

  /**
   * The states of a configuration's pools without registering them: `commit`, called when the
   * snapshot that holds them is swapped in, keeps them and forgets pools no longer configured.
   */
  plan(pools: readonly PoolModel[]): PoolStatePlan {
    const states = new Map<string, PoolState>();
    for (const pool of pools) states.set(pool.name, this.wanted(pool));
    return {
      states,
      commit: () => {
        this.states.clear();
        for (const [name, state] of states) this.states.set(name, state);
        this.shared?.retainPools(new Set(states.keys()));
      },
    };
  }

  private wanted(pool: PoolModel): PoolState {
    const fingerprint = fingerprintOf(pool, this.storeGeneration);
    const existing = this.states.get(pool.name);
    if (existing?.fingerprint === fingerprint) return existing;
    const persistence = pool.sessionPersistence;
    return {
      fingerprint,
      policy: createPolicy(pool.algorithm),
      bindings: persistence !== undefined && needsTable(pool) ? this.tableFor(pool, persistence) : undefined,
      counters: existing?.counters ?? new PoolCounters(),
    };
  }

  private tableFor(pool: PoolModel, persistence: SessionPersistence): BindingStore {
    if (
      this.shared !== undefined &&
      (persistence.type === "SOURCE_IP" || persistence.type === "APP_COOKIE")
    ) {
      // The `--workers` replication is for the no-store case only: with a store every worker
      // shares through it.
      const shared = this.shared.pool(pool.name, {
        ttlMs: persistence.persistenceTimeoutMs,
        maxEntries: persistence.maxBindings,
        kind: persistence.type,
        clock: this.clock,
      });
      this.tables.set(shared, shared);
      return shared;
    }
    const table = new BindingTable({
      ttlMs: persistence.persistenceTimeoutMs,
      maxEntries: Math.min(persistence.maxBindings, this.memoryCap),
      clock: this.clock,
    });
    const store = this.wrap === undefined ? table : this.wrap(pool, table);
    this.tables.set(store, table);
    return store;
  }

  /**
   * Entries each pool's in-process binding table removed: `expired` (idle past the persistence
   * timeout) and `evicted` (the oldest, to stay within `maxBindings`). For pools whose bindings live
   * in a shared store these are the removals from this replica's local cache (the store keeps its
   * own expiry; docs/shared-state.md).
   */
  *tableRemovals(): Iterable<{ readonly pool: string; readonly expired: number; readonly evicted: number }> {
    for (const [pool, state] of this.states) {
      const table = state.bindings === undefined ? undefined : this.tables.get(state.bindings);
      if (table !== undefined) yield { pool, expired: table.expirations, evicted: table.evictions };
    }
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
