/**
 * HTTP_COOKIE (SPEC 6.4): the load balancer's own cookie names the member. This module only turns
 * the request's cookie into a {@link Proposal} and decides which `Set-Cookie` the response needs;
 * whether the named member may take the client is the resolver's rule, written once.
 */
import type { MemberId } from "../../core/member.js";
import type { CookieAttributes } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { CookieCodec } from "./cookie-codec.js";
import { findCookie, parseSetCookie, serializeSetCookie } from "./cookie-header.js";
import { type Placement, type Proposal, resolvePlacement } from "./resolver.js";

/** One codec per key: the key changes only when the operator changes `cookieSecret`. */
const codecs = new WeakMap<Buffer, CookieCodec>();

export function codecFor(key: Buffer): CookieCodec {
  let codec = codecs.get(key);
  if (codec === undefined) {
    codec = new CookieCodec(key);
    codecs.set(key, codec);
  }
  return codec;
}

/**
 * Token → member of one pool under one codec. A snapshot's pool never changes its members, so
 * the index is built once per (pool runtime, codec) and dropped with the snapshot.
 */
const tokenIndexes = new WeakMap<PoolRuntime, { codec: CookieCodec; byToken: Map<string, MemberRuntime> }>();

function memberByToken(pool: PoolRuntime, codec: CookieCodec, token: string): MemberRuntime | undefined {
  let index = tokenIndexes.get(pool);
  if (index === undefined || index.codec !== codec) {
    const byToken = new Map<string, MemberRuntime>();
    for (const m of pool.members) byToken.set(codec.memberToken(m.endpoint), m);
    index = { codec, byToken };
    tokenIndexes.set(pool, index);
  }
  return index.byToken.get(token);
}

/** A member id no pool holds: the resolver then reports `redispatch` for a member that is gone. */
function goneMember(pool: PoolRuntime): MemberId {
  return `${pool.name}/-`;
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
  key: Buffer,
  cookieHeader: string | undefined,
  clientIp: string,
  now: number,
): HttpCookieDecision {
  const persistence = pool.model.sessionPersistence!;
  const codec = codecFor(key);
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
      const member = memberByToken(pool, codec, decoded.token);
      proposal = { kind: "bound", member: member?.id ?? goneMember(pool) };
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
  key: Buffer,
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
  const codec = codecFor(key);
  const value = codec.encode(codec.memberToken(answered.endpoint), now);
  const attrs = persistence.cookie;
  const secure = isSecure(attrs, https);
  // The value is the same for every response of a member within a second (cookie-codec.ts), so
  // the header is too: serialise (and validate) it once per member, second and Secure flag.
  let headers = serialised.get(persistence);
  if (headers === undefined) {
    headers = new Map();
    serialised.set(persistence, headers);
  }
  const cacheKey = secure ? `s${value}` : value;
  let header = headers.get(cacheKey);
  if (header === undefined) {
    header = serializeSetCookie(persistence.cookieName, value, {
      path: attrs.path,
      domain: attrs.domain === "" ? undefined : attrs.domain,
      maxAgeSeconds: Math.floor(persistence.persistenceTimeoutMs / 1000),
      httpOnly: attrs.httpOnly,
      sameSite: attrs.sameSite,
      secure,
    });
    if (headers.size >= MAX_SERIALISED_PER_POOL) headers.clear();
    headers.set(cacheKey, header);
  }
  return header;
}

/** Set-Cookie headers by pool persistence model (dropped with it), then by value. */
const serialised = new WeakMap<object, Map<string, string>>();
/** Members × Secure flags of the current second, with room: older seconds are dropped wholesale. */
const MAX_SERIALISED_PER_POOL = 1_024;
