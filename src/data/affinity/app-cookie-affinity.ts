/**
 * APP_COOKIE (SPEC 6.5): the application's own cookie value is the key of a binding table. The
 * request's value becomes a {@link Proposal}; the response's `Set-Cookie` headers teach the table.
 * Whether a bound member may take the client is the resolver's rule, written once.
 */
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { findCookie, parseSetCookie } from "./cookie-header.js";
import { NO_PROPOSAL, type Placement, type Proposal, resolvePlacement } from "./resolver.js";

/**
 * Longest application cookie value used as a binding key. Session ids are far shorter; a longer
 * value would let one client grow the table's memory by what it sends, so it is refused
 * (`invalid`) and placed by the algorithm without a binding.
 */
export const MAX_APP_COOKIE_VALUE_LENGTH = 256;

export interface AppCookieDecision {
  readonly placement: Placement;
  /** The cookie value the request carried, if any. */
  readonly value: string | undefined;
}

/**
 * Places a request by its application cookie: no cookie → `miss` (nothing to bind yet); a value
 * the table does not know → `miss`, bound to the member that answers; a lapsed binding →
 * `expired`; a known value → its member when the resolver honours it. Counted in the pool.
 */
export function placeByAppCookie(
  pool: PoolRuntime,
  cookieHeader: string | undefined,
  clientIp: string,
): AppCookieDecision {
  const name = pool.model.sessionPersistence!.cookieName;
  let value = cookieHeader === undefined ? undefined : findCookie(cookieHeader, name);
  let proposal: Proposal = NO_PROPOSAL;
  if (value !== undefined && value.length > MAX_APP_COOKIE_VALUE_LENGTH) {
    value = undefined;
    proposal = { kind: "invalid" };
  } else if (value !== undefined && pool.bindings !== undefined) {
    // A live hit also restarts the binding's idle timer: a request is traffic.
    const found = pool.bindings.get(value);
    if (found !== undefined)
      proposal = found.expired ? { kind: "expired" } : { kind: "bound", member: found.member };
  }
  const placement = resolvePlacement(pool, proposal, clientIp);
  pool.record(placement);
  return { placement, value };
}

/**
 * Learns from the response of the member that answered: binds the request's value when it was
 * placed afresh (or moved by a retry), then applies the response's `Set-Cookie` headers of the
 * cookie's name — a value binds to `answered`, a deletion removes the request value's binding.
 */
export function learnAppCookie(
  pool: PoolRuntime,
  decision: AppCookieDecision,
  answered: MemberRuntime,
  memberSetCookies: readonly string[],
  now: number,
): void {
  const table = pool.bindings;
  if (table === undefined) return;
  const name = pool.model.sessionPersistence!.cookieName;
  if (decision.value !== undefined && (decision.placement.rebind || decision.placement.member !== answered)) {
    table.bind(decision.value, answered.id);
  }
  for (const header of memberSetCookies) {
    const cookie = parseSetCookie(header, now);
    if (cookie === undefined || cookie.name !== name || cookie.value.length > MAX_APP_COOKIE_VALUE_LENGTH)
      continue;
    if (cookie.deletes) {
      if (decision.value !== undefined) table.delete(decision.value);
    } else {
      table.bind(cookie.value, answered.id);
    }
  }
}
