import type { Algorithm } from "../../core/model.js";
import { LeastConnectionsPolicy } from "./least-connections.js";
import { MaglevPolicy } from "./maglev.js";
import type { BalancingPolicy } from "./policy.js";
import { RoundRobinPolicy } from "./round-robin.js";

/**
 * Policies by algorithm name (Caddy's registered selection policies): a new policy is one entry
 * here, and the conformance suite runs against every entry. Each call makes a fresh instance,
 * because a policy may keep per-pool state.
 */
const factories: ReadonlyMap<Algorithm, () => BalancingPolicy> = new Map<Algorithm, () => BalancingPolicy>([
  ["ROUND_ROBIN", () => new RoundRobinPolicy()],
  ["LEAST_CONNECTIONS", () => new LeastConnectionsPolicy()],
  ["SOURCE_IP", () => new MaglevPolicy()],
]);

/** A new policy instance for one pool. The configuration schema admits only registered names. */
export function createPolicy(algorithm: Algorithm): BalancingPolicy {
  const factory = factories.get(algorithm);
  if (factory === undefined)
    throw new TypeError(`no balancing policy is registered for algorithm ${algorithm}`);
  return factory();
}

/** Every registered algorithm, in registration order. */
export function registeredAlgorithms(): readonly Algorithm[] {
  return [...factories.keys()];
}
