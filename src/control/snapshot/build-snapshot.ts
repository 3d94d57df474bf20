import type { ConfigModel } from "../../core/model.js";
import { bindKeyOf, type Snapshot } from "../../data/snapshot.js";
import type { MemberRegistry } from "../../data/upstream/member-registry.js";
import { PoolRuntime } from "../../data/upstream/pool-runtime.js";
import type { PoolStates } from "./pool-states.js";

/**
 * Turns a validated model into a snapshot: runtime members from the registry (state kept by
 * identity), pool state kept by name, listeners by bind key. Members that left the model are
 * marked removed in the registry and drain from here on; their bindings are redispatched by the
 * resolver at the client's next lookup (the pool no longer knows the member).
 */
export function buildSnapshot(
  model: ConfigModel,
  version: number,
  registry: MemberRegistry,
  poolStates: PoolStates,
  cookieKey: Buffer | undefined,
  drainTimeoutMs: number,
): Snapshot {
  const membersByPool = registry.sync(model, drainTimeoutMs);
  const pools = new Map<string, PoolRuntime>();
  for (const pool of model.pools) {
    pools.set(
      pool.name,
      new PoolRuntime(pool, membersByPool.get(pool.name) ?? [], poolStates.stateFor(pool), registry),
    );
  }
  poolStates.retain(new Set(pools.keys()));
  const listeners = new Map(model.listeners.map((l) => [bindKeyOf(l), l] as const));
  return { version, model, listeners, pools, cookieKey };
}
