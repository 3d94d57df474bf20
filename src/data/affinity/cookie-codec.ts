/**
 * The token of HTTP_COOKIE and HTTP_HEADER persistence (docs/affinity.md):
 * `2.<member>.<issued>.<start>.<mac>`.
 *
 * - `2` is the format version, so the format can change without misreading old tokens. Version 1
 *   (`1.<member>.<issued>.<mac>`, before tokens carried a session start) is still read, its
 *   session taken to start when it was issued.
 * - `member` names the member without revealing it: the first 16 bytes of
 *   HMAC-SHA256(key, "member:" + ADDRESS:PORT), base64url. It depends only on the key and the
 *   endpoint, so it is the same after a restart and on every instance that shares the key, and it
 *   never contains the address or port.
 * - `issued` is the issue time in whole seconds since the epoch, base 36; the load balancer
 *   refuses the token once `persistenceTimeout` has passed since, whatever the client does.
 * - `start` is when the session's first token was issued (whole seconds, base 36); a re-issued
 *   token keeps it, so `absoluteTimeout` counts from the first token however often it is renewed.
 * - `mac` is HMAC-SHA256(key, "2|" + member + "|" + issued + "|" + start) truncated to 16 bytes
 *   (128 bits, as RFC 2104 §5 allows), base64url, compared in constant time.
 *
 * Every character is base64url, a digit, a lower-case letter or `.`: all RFC 6265 cookie-octets,
 * valid in an HTTP header field value, and safe in URLs and logs. Token derivation and MAC inputs
 * start differently (`member:` vs `1|`/`2|`), and each version's MAC input starts with its
 * version, so no value can stand in for another.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const COOKIE_FORMAT_VERSION = 2;
/** Longer values are refused before any parsing or crypto (a valid one is about 61 characters). */
export const MAX_COOKIE_VALUE_LENGTH = 200;
/**
 * A cookie issued further than this in the future is treated as expired: only an instance with a
 * badly wrong clock can make one, and it must not outlive `persistenceTimeout` by that error.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const TOKEN_BYTES = 16;
const MAC_BYTES = 16;
/** 16 bytes in unpadded base64url: 22 characters, the last carrying only 2 bits (so A, Q, g or w). */
const B64_16 = "[A-Za-z0-9_-]{21}[AQgw]";
/** Seconds since the epoch in base 36: nine digits reach far beyond any clock this runs on. */
const SECONDS = "0|[1-9a-z][0-9a-z]{0,8}";
const VALUE = new RegExp(`^2\\.(${B64_16})\\.(${SECONDS})\\.(${SECONDS})\\.(${B64_16})$`);
const VALUE_V1 = new RegExp(`^1\\.(${B64_16})\\.(${SECONDS})\\.(${B64_16})$`);
const TOKEN = new RegExp(`^${B64_16}$`);
const VERSION = /^[0-9]{1,4}$/;
/** Distinct endpoints are few; the bound only guards against unbounded churn over months. */
const MAX_CACHED_TOKENS = 10_000;
/**
 * Authenticated values remembered, so a returning client's cookie is verified by HMAC once, not on
 * every request (the HMAC was 3–5 % of a returning client's request in the profile). A value
 * decodes to the same result under the same key forever, so the cache cannot be wrong; expiry is
 * still checked by the caller on every request. Only authentic values enter, and the bound
 * (oldest first out) keeps a flood of distinct cookies from growing it.
 */
const MAX_VERIFIED_VALUES = 10_000;

export type DecodeResult =
  | {
      readonly ok: true;
      readonly token: string;
      readonly issuedAtMs: number;
      /** When the session's first token was issued (version 1 tokens: their issue time). */
      readonly sessionStartMs: number;
    }
  | { readonly ok: false; readonly reason: "malformed" | "forged" | "version" };

const MALFORMED: DecodeResult = { ok: false, reason: "malformed" };
const FORGED: DecodeResult = { ok: false, reason: "forged" };
const VERSION_MISMATCH: DecodeResult = { ok: false, reason: "version" };

export class CookieCodec {
  private readonly tokens = new Map<string, string>();
  private readonly verified = new Map<string, DecodeResult>();
  /** The last value encoded for each member token, with its issue second. */
  private readonly issued = new Map<string, { readonly second: number; readonly value: string }>();

  /** `key`: at least 32 bytes (see cookie-key.ts); the codec keeps a copy. */
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new RangeError(`cookie key must be at least 32 bytes, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  /** The opaque, stable name of a member endpoint (`ADDRESS:PORT`) inside cookies. */
  memberToken(endpoint: string): string {
    let token = this.tokens.get(endpoint);
    if (token === undefined) {
      token = this.hmac(`member:${endpoint}`, TOKEN_BYTES).toString("base64url");
      if (this.tokens.size >= MAX_CACHED_TOKENS) this.tokens.clear();
      this.tokens.set(endpoint, token);
    }
    return token;
  }

  /**
   * The value for a member token (from {@link memberToken}) issued at `issuedAtMs`, in a session
   * that started at `sessionStartMs` (a new session when omitted); whole seconds are kept.
   */
  encode(token: string, issuedAtMs: number, sessionStartMs: number = issuedAtMs): string {
    if (!Number.isFinite(issuedAtMs) || issuedAtMs < 0) throw new RangeError(`bad issue time ${issuedAtMs}`);
    if (!Number.isFinite(sessionStartMs) || sessionStartMs < 0 || sessionStartMs > issuedAtMs)
      throw new RangeError(`bad session start ${sessionStartMs}`);
    const second = Math.floor(issuedAtMs / 1000);
    const startSecond = Math.floor(sessionStartMs / 1000);
    // Every new-session value for one member issued within one second is the same: under load
    // (many new clients per second) the HMAC runs once per member and second, not once per
    // response. Re-issues (an older session start) are rare, at most one per client and ttl/4,
    // and are not cached.
    const fresh = startSecond === second;
    const last = fresh ? this.issued.get(token) : undefined;
    if (last !== undefined && last.second === second) return last.value;
    if (!TOKEN.test(token)) throw new TypeError("not a member token");
    const issued = second.toString(36);
    const start = startSecond.toString(36);
    const mac = this.mac(`${COOKIE_FORMAT_VERSION}|${token}|${issued}|${start}`).toString("base64url");
    const value = `${COOKIE_FORMAT_VERSION}.${token}.${issued}.${start}.${mac}`;
    if (fresh) {
      if (this.issued.size >= MAX_CACHED_TOKENS) this.issued.clear();
      this.issued.set(token, { second, value });
    }
    return value;
  }

  /**
   * Parses and authenticates a value; never throws. The caller checks expiry (it knows the
   * timeout). `remember: false` leaves the cache of verified values alone (the admin API's
   * explain must change nothing, not even which value the cache drops next).
   */
  decode(value: string, remember = true): DecodeResult {
    if (typeof value !== "string" || value.length > MAX_COOKIE_VALUE_LENGTH) return MALFORMED;
    const known = this.verified.get(value);
    if (known !== undefined) return known;
    const result = this.authenticate(value);
    if (!result.ok) return result;
    if (!remember) return result;
    if (this.verified.size >= MAX_VERIFIED_VALUES) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(value, result);
    return result;
  }

  private authenticate(value: string): DecodeResult {
    const match = VALUE.exec(value);
    if (match !== null) {
      const [, token, issued, start, mac] = match as unknown as [string, string, string, string, string];
      if (!this.macMatches(mac, `2|${token}|${issued}|${start}`)) return FORGED;
      const issuedAtMs = Number.parseInt(issued, 36) * 1000;
      const sessionStartMs = Number.parseInt(start, 36) * 1000;
      // Only this codec writes a start, never after the issue time: anything else is not ours.
      if (sessionStartMs > issuedAtMs) return FORGED;
      return { ok: true, token, issuedAtMs, sessionStartMs };
    }
    const old = VALUE_V1.exec(value);
    if (old !== null) {
      const [, token, issued, mac] = old as unknown as [string, string, string, string];
      if (!this.macMatches(mac, `1|${token}|${issued}`)) return FORGED;
      const issuedAtMs = Number.parseInt(issued, 36) * 1000;
      return { ok: true, token, issuedAtMs, sessionStartMs: issuedAtMs };
    }
    const dot = value.indexOf(".");
    const version = dot > 0 ? value.slice(0, dot) : "";
    return VERSION.test(version) && version !== "1" && version !== String(COOKIE_FORMAT_VERSION)
      ? VERSION_MISMATCH
      : MALFORMED;
  }

  private macMatches(givenText: string, input: string): boolean {
    const given = Buffer.from(givenText, "base64url");
    const expected = this.mac(input);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** Authentic values remembered (bounded by MAX_VERIFIED_VALUES); for tests and the admin API. */
  get verifiedCount(): number {
    return this.verified.size;
  }

  isExpired(issuedAtMs: number, nowMs: number, ttlMs: number): boolean {
    return isExpired(issuedAtMs, nowMs, ttlMs);
  }

  needsReissue(issuedAtMs: number, nowMs: number, ttlMs: number): boolean {
    return needsReissue(issuedAtMs, nowMs, ttlMs);
  }

  private mac(input: string): Buffer {
    return this.hmac(input, MAC_BYTES);
  }

  private hmac(input: string, bytes: number): Buffer {
    return createHmac("sha256", this.key).update(input, "utf8").digest().subarray(0, bytes);
  }
}

/** The cookie is refused once `ttlMs` has passed since it was issued (or it claims a far future). */
export function isExpired(issuedAtMs: number, nowMs: number, ttlMs: number): boolean {
  return nowMs - issuedAtMs >= ttlMs || issuedAtMs - nowMs > MAX_CLOCK_SKEW_MS;
}

/**
 * The session is refused once `absoluteMs` has passed since its first token, however active the
 * client (no limit when undefined).
 */
export function isSessionOver(
  sessionStartMs: number,
  nowMs: number,
  absoluteMs: number | undefined,
): boolean {
  return absoluteMs !== undefined && nowMs - sessionStartMs >= absoluteMs;
}

/**
 * Sliding expiry without a `Set-Cookie` on every response: the issue time inside the cookie is
 * what the load balancer enforces, so an active client needs a fresh cookie before `ttlMs` runs
 * out. Re-issuing on every response would add a header to every response (and make responses
 * uncacheable by shared caches); re-issuing once a quarter of the ttl has passed costs at most
 * one `Set-Cookie` per ttl/4 per client, while any client that comes back within 3/4 of the ttl
 * of its last re-issue keeps its binding. The idle time tolerated is therefore between 3/4 ttl and
 * ttl, never more than ttl (docs/reference/behaviour.md#http_cookie).
 */
export function needsReissue(issuedAtMs: number, nowMs: number, ttlMs: number): boolean {
  return nowMs - issuedAtMs >= ttlMs / 4;
}
