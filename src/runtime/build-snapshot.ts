import type { ConfigModel } from "../core/model.js";
import { CookieCodec } from "../data/affinity/cookie-codec.js";
import { compileSniTable } from "../data/listener/tls-contexts.js";
import { compileRoutes } from "../data/router/route-matcher.js";
import { bindKeyOf, type CompiledListener, type Snapshot } from "../data/snapshot.js";
import type { MemberRegistry } from "../data/upstream/member-registry.js";
import { PoolRuntime } from "../data/upstream/pool-runtime.js";
import type { PoolStates } from "./pool-states.js";

/** A snapshot built and checked but not yet in service. */
export interface SnapshotPlan {
  readonly snapshot: Snapshot;
  /**
   * Applies what the snapshot changes in the long-lived state (member weights and drain flags,
   * new and forgotten pool states). Called right after the swap, in the same tick, so the data
   * path never sees the old snapshot with the new state or the reverse.
   */
  commit(): void;
}

/**
 * Builds a whole snapshot from a validated model without changing anything shared: runtime
 * members from the registry (state kept by identity, new members not yet registered), pool state
 * kept by name, and every table the data path reads (route matchers, TLS certificates read and
 * checked, cookie codec and token indexes). Throws, changing nothing, when a certificate is bad.
 * Members that left the model drain from the commit on; their bindings are redispatched at the
 * client's next lookup (the pool no longer knows the member).
 */
export function planSnapshot(
  model: ConfigModel,
  version: number,
  registry: MemberRegistry,
  poolStates: PoolStates,
  cookieKey: Buffer | undefined,
  drainTimeoutMs: number,
): SnapshotPlan {
  const compiled = new Map<string, CompiledListener>();
  for (const l of model.listeners) {
    compiled.set(bindKeyOf(l), {
      model: l,
      routes: compileRoutes(l),
      sni: l.protocol === "HTTPS" ? compileSniTable(l) : undefined,
    });
  }
  const cookieCodec = cookieKey === undefined ? undefined : new CookieCodec(cookieKey);
  const members = registry.plan(model, drainTimeoutMs);
  const states = poolStates.plan(model.pools);
  const pools = new Map<string, PoolRuntime>();
  for (const pool of model.pools) {
    const list = members.byPool.get(pool.name) ?? [];
    pools.set(pool.name, new PoolRuntime(pool, list, states.states.get(pool.name)!, cookieCodec, registry));
  }
  const listeners = new Map(model.listeners.map((l) => [bindKeyOf(l), l] as const));
  const snapshot: Snapshot = { version, model, listeners, compiled, pools, cookieKey, cookieCodec };
  return {
    snapshot,
    commit: () => {
      members.commit();
      states.commit();
    },
  };
}

/**
 * {@link planSnapshot} committed at once: for callers that swap the result themselves right away
 * (tests of the data path, which hold their own snapshot holder).
 */
export function buildSnapshot(...args: Parameters<typeof planSnapshot>): Snapshot {
  const plan = planSnapshot(...args);
  plan.commit();
  return plan.snapshot;
}
