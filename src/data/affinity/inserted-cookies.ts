/**
 * The HTTP_COOKIE state of one pool in one snapshot, built with the snapshot: the codec of the
 * snapshot's key, the token → member index, and the `Set-Cookie` headers already serialised.
 * Built before the swap, so the first request after a reload pays nothing and nothing is cached
 * outside the snapshot.
 */
import type { SessionPersistence } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { CookieCodec } from "./cookie-codec.js";
import { serializeSetCookie } from "./cookie-header.js";

/** Members × Secure flags of the current second, with room: older seconds are dropped wholesale. */
const MAX_SERIALISED = 1_024;

export class InsertedCookies {
  private readonly byToken = new Map<string, MemberRuntime>();
  private readonly serialised = new Map<string, string>();

  constructor(
    readonly codec: CookieCodec,
    private readonly persistence: SessionPersistence,
    members: readonly MemberRuntime[],
  ) {
    for (const m of members) this.byToken.set(codec.memberToken(m.endpoint), m);
  }

  /** The pool member a decoded token names; undefined when it names no member of this snapshot. */
  memberByToken(token: string): MemberRuntime | undefined {
    return this.byToken.get(token);
  }

  /**
   * The `Set-Cookie` header for a cookie value. The value is the same for every response of a
   * member within a second (cookie-codec.ts), so the header is too: it is serialised (and
   * validated) once per member, second and Secure flag.
   */
  setCookieHeader(value: string, secure: boolean): string {
    const cacheKey = secure ? `s${value}` : value;
    let header = this.serialised.get(cacheKey);
    if (header === undefined) {
      const persistence = this.persistence;
      const attrs = persistence.cookie;
      header = serializeSetCookie(persistence.cookieName, value, {
        path: attrs.path,
        domain: attrs.domain === "" ? undefined : attrs.domain,
        maxAgeSeconds: Math.floor(persistence.persistenceTimeoutMs / 1000),
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
