import type { PlacedClient } from "../affinity/placement-front.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";

/**
 * The one retry rule of the data path, for TCP connections, HTTP requests and upgrades alike: after
 * `failed` could not serve the client, one more try on another eligible member when `allowed`
 * (the caller knows whether its first try may be repeated: not retried yet, client still there,
 * nothing sent that cannot be sent twice). The client is moved through the placement front, so
 * its binding follows and a `hit` becomes a `redispatch`. Undefined: give up (close, 502).
 */
export function retryElsewhere(
  pool: PoolRuntime,
  placement: PlacedClient,
  failed: MemberRuntime,
  allowed: boolean,
  counters: { retries: number },
): MemberRuntime | undefined {
  if (!allowed) return undefined;
  const next = pool.pick(placement.facts.clientIp, failed);
  if (next === undefined) return undefined;
  counters.retries++;
  placement.moved(next);
  return next;
}
