/**
 * HTTP_COOKIE: the load balancer's own cookie carries the session token (`session-token.ts`).
 * This module only finds the token in the request's `Cookie` header and writes the `Set-Cookie`
 * of a token to send; whether the named member may take the client is the resolver's rule.
 */
import type { CookieAttributes, SessionPersistence } from "../../core/model.js";
import { CookieCodec } from "./cookie-codec.js";
import { findCookie, parseSetCookie } from "./cookie-header.js";
import type { InsertedCookies } from "./inserted-cookies.js";
import type { IssuedToken } from "./session-token.js";

/** A codec over `key` (the admin API decodes cookies with the snapshot's key too). */
export function codecFor(key: Buffer): CookieCodec {
  return new CookieCodec(key);
}

/** The inserted cookie's value in a request's `Cookie` header. */
export function cookieToken(
  persistence: SessionPersistence,
  cookieHeader: string | undefined,
): string | undefined {
  return cookieHeader === undefined ? undefined : findCookie(cookieHeader, persistence.cookieName);
}

/** Whether the `Secure` attribute goes on the cookie (`auto`: on HTTPS listeners). */
function isSecure(attrs: CookieAttributes, https: boolean): boolean {
  return attrs.secure === "always" || (attrs.secure === "auto" && https);
}

/**
 * The `Set-Cookie` value for a token, or undefined when the member's own response sets a cookie
 * of the same name (the application wins; docs/http.md).
 */
export function setCookieFor(
  cookies: InsertedCookies,
  persistence: SessionPersistence,
  token: IssuedToken,
  memberSetCookies: readonly string[],
  https: boolean,
  now: number,
): string | undefined {
  for (const header of memberSetCookies) {
    if (parseSetCookie(header, now)?.name === persistence.cookieName) return undefined;
  }
  return cookies.setCookieHeader(token, isSecure(persistence.cookie, https));
}
