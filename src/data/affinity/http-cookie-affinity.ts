/**
 * HTTP_COOKIE (SPEC 6.4): the load balancer's own cookie names the member. This module only turns
 * the request's cookie into a {@link Proposal} and decides which `Set-Cookie` the response needs;
 * whether the named member may take the client is the resolver's rule, written once.
 */
import type { CookieAttributes } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { CookieCodec } from "./cookie-codec.js";
import { findCookie, parseSetCookie } from "./cookie-header.js";
import type { InsertedCookies } from "./inserted-cookies.js";
import { GONE, type Placement, type Proposal, resolvePlacement } from "./resolver.js";

/** A codec over `key` (the admin API decodes cookies with the snapshot's key too). */
export function codecFor(key: Buffer): CookieCodec {
  return new CookieCodec(key);
}

export interface HttpCookieDecision {
  readonly placement: Placement;
  /** The member a valid cookie named, when it was honoured. */
  readonly honoured: MemberRuntime | undefined;
  /** The honoured cookie has aged past the re-issue point (sliding expiry). */
  readonly reissue: boolean;
}

/**
 * Reads the request's cookie: absent → `miss`; malformed, forged or of another version →
 * `invalid`; issued longer ago than `persistenceTimeout` → `expired`; otherwise the member it
 * names is proposed (and `redispatch` follows if that member is gone or may not keep clients).
 * The decision is counted in the pool's counters.
 */
export function placeByHttpCookie(
  pool: PoolRuntime,
  cookies: InsertedCookies,
  cookieHeader: string | undefined,
  clientIp: string,
  now: number,
): HttpCookieDecision {
  const persistence = pool.model.sessionPersistence!;
  const codec = cookies.codec;
  const value = cookieHeader === undefined ? undefined : findCookie(cookieHeader, persistence.cookieName);
  let proposal: Proposal = { kind: "none" };
  let issuedAt = 0;
  if (value !== undefined) {
    const decoded = codec.decode(value);
    if (!decoded.ok) proposal = { kind: "invalid" };
    else if (codec.isExpired(decoded.issuedAtMs, now, persistence.persistenceTimeoutMs))
      proposal = { kind: "expired" };
    else {
      issuedAt = decoded.issuedAtMs;
      const member = cookies.memberByToken(decoded.token);
      proposal = member === undefined ? GONE : { kind: "bound", member: member.id };
    }
  }
  const placement = resolvePlacement(pool, proposal, clientIp);
  pool.record(placement);
  const honoured = placement.result === "hit" ? placement.member : undefined;
  const reissue =
    honoured !== undefined && codec.needsReissue(issuedAt, now, persistence.persistenceTimeoutMs);
  return { placement, honoured, reissue };
}

/** Whether the `Secure` attribute goes on the cookie (`auto`: on HTTPS listeners). */
function isSecure(attrs: CookieAttributes, https: boolean): boolean {
  return attrs.secure === "always" || (attrs.secure === "auto" && https);
}

/**
 * The `Set-Cookie` value the response to this request must carry, or undefined: none when the
 * honoured cookie still names the member that answered and is fresh, and none when the member's
 * own response sets a cookie of the same name (the application wins; docs/http.md).
 */
export function httpCookieToSet(
  pool: PoolRuntime,
  cookies: InsertedCookies,
  decision: HttpCookieDecision,
  answered: MemberRuntime,
  memberSetCookies: readonly string[],
  https: boolean,
  now: number,
): string | undefined {
  if (decision.honoured === answered && !decision.reissue) return undefined;
  const persistence = pool.model.sessionPersistence!;
  for (const header of memberSetCookies) {
    if (parseSetCookie(header, now)?.name === persistence.cookieName) return undefined;
  }
  const codec = cookies.codec;
  const value = codec.encode(codec.memberToken(answered.endpoint), now);
  return cookies.setCookieHeader(value, isSecure(persistence.cookie, https));
}
