/**
 * Routing and placement of one HTTP request: the listener's compiled routes choose the pool, the
 * placement front chooses the member. What every request of a listener shares is its
 * {@link HttpEnv}.
 */

import { PlacedClient, place } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import type { RequestHead } from "../http1/head-parser.js";
import { normalizeHost, pathOf, type RouteMatcher } from "../router/route-matcher.js";
import type { Snapshot } from "../snapshot.js";
import type { MemberConnectionPools } from "../upstream/member-connections.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import type { HttpListenerCounters } from "./http-counters.js";
import { firstHeader } from "./http-headers.js";

/** What every request of one listener shares. */
export interface HttpEnv {
  readonly ctx: DataPathContext;
  readonly counters: HttpListenerCounters;
  readonly agents: MemberConnectionPools;
  readonly https: boolean;
  /** The listener's bound port (X-Forwarded-Port). */
  readonly port: number;
}

/**
 * A request routed to a pool and placed on a member: its placement (the front's
 * {@link PlacedClient}, whose facts are its own fields) is its routing outcome too, so routing and
 * placing a request allocates this one object (docs/performance.md).
 */
export class RoutedRequest extends PlacedClient {
  readonly ok = true;

  constructor(
    readonly pool: PoolRuntime,
    clientIp: string,
    cookieHeader: string | undefined,
    requestRaw: readonly string[],
    https: boolean,
    now: number,
  ) {
    super(pool, clientIp, true, cookieHeader, requestRaw, https, now);
  }

  /** The placement, as the exchange keeps it: this object. */
  get sticky(): PlacedClient {
    return this;
  }

  /** The member placed; an outcome is only `ok` once there is one. */
  get target(): MemberRuntime {
    return this.member!;
  }
}

export type RouteOutcome =
  | RoutedRequest
  | { readonly ok: false; readonly status: number; readonly pool: string };

/**
 * Routes and places a request with the snapshot current now: 404 for no route, 503 for a pool
 * with no eligible member.
 */
export function routeAndPlace(
  head: RequestHead,
  routes: RouteMatcher,
  snapshot: Snapshot,
  env: HttpEnv,
  clientIp: string,
  /** When the head was complete (the data path's clock): the placement's "now" too. */
  now: number,
): RouteOutcome | Promise<RouteOutcome> {
  const poolName = routes(normalizeHost(firstHeader(head.raw, "host")), pathOf(head.target));
  if (poolName === undefined) {
    env.counters.noRoute++;
    return { ok: false, status: 404, pool: "" };
  }
  const pool = snapshot.pools.get(poolName);
  if (pool === undefined) {
    env.counters.noMember++;
    return { ok: false, status: 503, pool: poolName };
  }
  const client = new RoutedRequest(pool, clientIp, cookieHeaderOf(head.raw), head.raw, env.https, now);
  const placed = place(pool, client);
  // A promise only on a local miss in a pool whose bindings are shared: a hit stays synchronous.
  return placed instanceof Promise ? placed.then((routed) => outcomeOf(routed, env)) : outcomeOf(placed, env);
}

function outcomeOf(routed: RoutedRequest, env: HttpEnv): RouteOutcome {
  if (routed.member === undefined) {
    env.counters.noMember++;
    return { ok: false, status: 503, pool: routed.pool.name };
  }
  return routed;
}

/** The `Cookie` header; several are joined with `; ` (RFC 9113 8.2.3, what node:http did too). */
function cookieHeaderOf(raw: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 6 || name.toLowerCase() !== "cookie") continue;
    value = value === undefined ? raw[i + 1]! : `${value}; ${raw[i + 1]!}`;
  }
  return value;
}
