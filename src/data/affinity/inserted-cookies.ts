/**
 * The `Set-Cookie` headers of one HTTP_COOKIE pool in one snapshot, serialised once per value and
 * Secure flag. Built with the snapshot, so nothing is cached outside it.
 */
import type { SessionPersistence } from "../../core/model.js";
import { serializeSetCookie } from "./cookie-header.js";
import type { IssuedToken } from "./session-token.js";

/** Members × Secure flags of the current second, with room: older seconds are dropped wholesale. */
const MAX_SERIALISED = 1_024;

export class InsertedCookies {
  private readonly serialised = new Map<string, string>();

  constructor(private readonly persistence: SessionPersistence) {}

  /**
   * The `Set-Cookie` header for a token. A new session's value is the same for every response of
   * a member within a second (cookie-codec.ts), so the header is too: it is serialised (and
   * validated) once per value and Secure flag. The value fixes the issue time and session start,
   * so it fixes Max-Age too.
   */
  setCookieHeader(token: IssuedToken, secure: boolean): string {
    const cacheKey = secure ? `s${token.value}` : token.value;
    let header = this.serialised.get(cacheKey);
    if (header === undefined) {
      const persistence = this.persistence;
      const attrs = persistence.cookie;
      header = serializeSetCookie(persistence.cookieName, token.value, {
        path: attrs.path,
        domain: attrs.domain === "" ? undefined : attrs.domain,
        maxAgeSeconds: attrs.maxAge === "session" ? undefined : maxAgeSeconds(persistence, token),
        httpOnly: attrs.httpOnly,
        sameSite: attrs.sameSite,
        secure,
      });
      if (this.serialised.size >= MAX_SERIALISED) this.serialised.clear();
      this.serialised.set(cacheKey, header);
    }
    return header;
  }
}

/**
 * The cookie lives as long as the load balancer accepts it: `persistenceTimeout` from its issue,
 * but never past the session's absolute deadline, so a browser does not keep (and send) a cookie
 * the load balancer will refuse.
 */
export function maxAgeSeconds(persistence: SessionPersistence, token: IssuedToken): number {
  let lifetimeMs = persistence.persistenceTimeoutMs;
  const absolute = persistence.absoluteTimeoutMs;
  if (absolute !== undefined)
    lifetimeMs = Math.min(lifetimeMs, token.sessionStart + absolute - token.issuedAt);
  return Math.max(0, Math.floor(lifetimeMs / 1000));
}
