/**
 * HTTP_COOKIE: the load balancer's own cookie names the member. This module only reads the
 * request's cookie (what it proposes) and decides which `Set-Cookie` the response needs; whether
 * the named member may take the client is the resolver's rule, written once.
 */
import type { CookieAttributes, SessionPersistence } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { CookieCodec } from "./cookie-codec.js";
import { findCookie, parseSetCookie } from "./cookie-header.js";
import type { InsertedCookies } from "./inserted-cookies.js";

/** A codec over `key` (the admin API decodes cookies with the snapshot's key too). */
export function codecFor(key: Buffer): CookieCodec {
  return new CookieCodec(key);
}

/** What the request's cookie says, before any member is looked up. */
export type CookieFinding =
  | { readonly kind: "none" }
  | { readonly kind: "invalid" }
  | { readonly kind: "expired" }
  | { readonly kind: "bound"; readonly token: string; readonly issuedAt: number };

const NONE: CookieFinding = { kind: "none" };
const INVALID: CookieFinding = { kind: "invalid" };
const EXPIRED: CookieFinding = { kind: "expired" };

/**
 * Reads the request's cookie: absent → `none` (a miss); malformed, forged or of another version
 * → `invalid`; issued longer ago than `persistenceTimeout` → `expired`; otherwise the member
 * token it carries and when it was issued.
 */
export function proposeByHttpCookie(
  cookies: InsertedCookies,
  persistence: SessionPersistence,
  cookieHeader: string | undefined,
  now: number,
): CookieFinding {
  const value = cookieHeader === undefined ? undefined : findCookie(cookieHeader, persistence.cookieName);
  if (value === undefined) return NONE;
  const codec = cookies.codec;
  const decoded = codec.decode(value);
  if (!decoded.ok) return INVALID;
  if (codec.isExpired(decoded.issuedAtMs, now, persistence.persistenceTimeoutMs)) return EXPIRED;
  return { kind: "bound", token: decoded.token, issuedAt: decoded.issuedAtMs };
}

/** Whether the `Secure` attribute goes on the cookie (`auto`: on HTTPS listeners). */
function isSecure(attrs: CookieAttributes, https: boolean): boolean {
  return attrs.secure === "always" || (attrs.secure === "auto" && https);
}

/**
 * The `Set-Cookie` value the response must carry, or undefined: none when the honoured cookie
 * (issued at `issuedAt`) still names the member that answered and is fresh, and none when the
 * member's own response sets a cookie of the same name (the application wins; docs/http.md).
 */
export function httpCookieToSet(
  cookies: InsertedCookies,
  persistence: SessionPersistence,
  honoured: MemberRuntime | undefined,
  issuedAt: number,
  answered: MemberRuntime,
  memberSetCookies: readonly string[],
  https: boolean,
  now: number,
): string | undefined {
  const codec = cookies.codec;
  // Sliding expiry: an honoured cookie past the re-issue point is renewed.
  if (honoured === answered && !codec.needsReissue(issuedAt, now, persistence.persistenceTimeoutMs))
    return undefined;
  for (const header of memberSetCookies) {
    if (parseSetCookie(header, now)?.name === persistence.cookieName) return undefined;
  }
  const value = codec.encode(codec.memberToken(answered.endpoint), now);
  return cookies.setCookieHeader(value, isSecure(persistence.cookie, https));
}
