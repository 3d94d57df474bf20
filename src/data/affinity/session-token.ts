/**
 * The session token of HTTP_COOKIE and HTTP_HEADER persistence: what a request's token says, and
 * which token the response must carry. Where the token travels (a cookie, a header) is the
 * carrier's business (`http-cookie-affinity.ts`, `http-header-affinity.ts`); the timeouts are
 * enforced here, once, for both (docs/affinity.md).
 */
import type { SessionPersistence } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { type CookieCodec, isSessionOver } from "./cookie-codec.js";

/** The codec of a snapshot's key and the member token → member index of one pool. */
export class MemberTokens {
  private readonly byToken = new Map<string, MemberRuntime>();

  constructor(
    readonly codec: CookieCodec,
    members: readonly MemberRuntime[],
  ) {
    for (const m of members) this.byToken.set(codec.memberToken(m.endpoint), m);
  }

  /** The pool member a decoded token names; undefined when it names no member of this snapshot. */
  memberByToken(token: string): MemberRuntime | undefined {
    return this.byToken.get(token);
  }
}

/** What the request's token says, before any member is looked up. */
export type TokenFinding =
  | { readonly kind: "none" }
  | { readonly kind: "invalid" }
  | { readonly kind: "expired" }
  | {
      readonly kind: "bound";
      readonly token: string;
      readonly issuedAt: number;
      readonly sessionStart: number;
    };

const NONE: TokenFinding = { kind: "none" };
const INVALID: TokenFinding = { kind: "invalid" };
const EXPIRED: TokenFinding = { kind: "expired" };

/**
 * Reads a request's token: absent → `none` (a miss); malformed, forged or of an unknown version
 * → `invalid`; issued longer ago than `persistenceTimeout`, or in a session older than
 * `absoluteTimeout` → `expired`; otherwise the member token, its issue time and session start.
 */
export function readToken(
  codec: CookieCodec,
  persistence: SessionPersistence,
  value: string | undefined,
  now: number,
): TokenFinding {
  if (value === undefined) return NONE;
  const decoded = codec.decode(value);
  if (!decoded.ok) return INVALID;
  if (codec.isExpired(decoded.issuedAtMs, now, persistence.persistenceTimeoutMs)) return EXPIRED;
  if (isSessionOver(decoded.sessionStartMs, now, persistence.absoluteTimeoutMs)) return EXPIRED;
  return {
    kind: "bound",
    token: decoded.token,
    issuedAt: decoded.issuedAtMs,
    sessionStart: decoded.sessionStartMs,
  };
}

/** What the response's token decision needs to know of the client. */
export interface TokenHolder {
  /** The member the client's token named and that was honoured; undefined when placed afresh. */
  readonly honoured: MemberRuntime | undefined;
  /** When the honoured token was issued (ms). */
  readonly issuedAt: number;
  /** When the session of the client's valid token started; undefined: no valid token, a new session. */
  readonly sessionStart: number | undefined;
}

/** A token to send: its value, issue time and session start (ms, whole seconds). */
export interface IssuedToken {
  readonly value: string;
  readonly issuedAt: number;
  readonly sessionStart: number;
}

/**
 * The token the response must carry, or undefined: none when the honoured token still names the
 * member that answered and is fresh. A renewed token (sliding expiry) and a token naming a new
 * member after a failover keep the session start of the client's valid token, so
 * `absoluteTimeout` counts from the session's first token however the client moved.
 */
export function tokenToIssue(
  tokens: MemberTokens,
  persistence: SessionPersistence,
  client: TokenHolder,
  answered: MemberRuntime,
  now: number,
): IssuedToken | undefined {
  const codec = tokens.codec;
  if (
    client.honoured === answered &&
    !codec.needsReissue(client.issuedAt, now, persistence.persistenceTimeoutMs)
  )
    return undefined;
  const issuedAt = Math.floor(now / 1000) * 1000;
  const sessionStart = client.sessionStart ?? issuedAt;
  return {
    value: codec.encode(codec.memberToken(answered.endpoint), now, sessionStart),
    issuedAt,
    sessionStart,
  };
}
