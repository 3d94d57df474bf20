/**
 * Strict, allocation-light cookie header handling for the data path (RFC 6265): find one cookie
 * in `Cookie` headers, read a `Set-Cookie`, write the load balancer's own `Set-Cookie`.
 *
 * The parsers never throw and bound their work: input past the limits below is ignored or refused.
 * They allocate only the strings they return.
 */
import type { SameSite } from "../../core/model.js";

/** `Cookie` input scanned per request; the request head itself is capped at 64 KiB (docs/reference/behaviour.md#http-forwarding). */
export const MAX_COOKIE_HEADER_LENGTH = 64 * 1024;
/** A longer `Set-Cookie` is ignored (browsers cap a cookie at 4096 bytes of name and value). */
export const MAX_SET_COOKIE_LENGTH = 8 * 1024;

const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
/** RFC 7230 token: the grammar of a cookie name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 cookie-value: cookie-octets, optionally in double quotes. */
const COOKIE_VALUE =
  /^(?:[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")$/;
/** Path and Domain attribute values: no control characters and no `;`. */
const ATTRIBUTE_VALUE = /^[\x20-\x3a\x3c-\x7e]*$/;

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** `s[from, to)` without surrounding spaces and tabs and, when both are present, double quotes. */
function cookieValue(s: string, from: number, to: number): string {
  while (from < to && isOws(s.charCodeAt(from))) from++;
  while (to > from && isOws(s.charCodeAt(to - 1))) to--;
  if (to - from >= 2 && s.charCodeAt(from) === DQUOTE && s.charCodeAt(to - 1) === DQUOTE) {
    from++;
    to--;
  }
  return s.slice(from, to);
}

function findIn(header: string, name: string): string | undefined {
  const limit = Math.min(header.length, MAX_COOKIE_HEADER_LENGTH);
  let i = 0;
  while (i < limit) {
    while (i < limit && isOws(header.charCodeAt(i))) i++;
    let end = header.indexOf(";", i);
    if (end === -1) end = header.length;
    // A pair cut by the limit is not read: half a value would be worse than none.
    if (end > limit) return undefined;
    if (header.startsWith(name, i)) {
      let j = i + name.length;
      while (j < end && isOws(header.charCodeAt(j))) j++;
      if (j < end && header.charCodeAt(j) === EQUALS) return cookieValue(header, j + 1, end);
    }
    i = end + 1;
  }
  return undefined;
}

/**
 * The value of cookie `name` in a request's `Cookie` header(s), unquoted; the first occurrence
 * wins (RFC 6265 5.4 orders the more specific path first, and that is the one the server meant).
 * Names compare case-sensitively. Undefined when absent.
 */
export function findCookie(header: string | readonly string[] | undefined, name: string): string | undefined {
  if (name === "" || header === undefined) return undefined;
  if (typeof header === "string") return findIn(header, name);
  for (const h of header) {
    if (typeof h !== "string") continue;
    const value = findIn(h, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** The header removes the cookie: `Max-Age` ≤ 0, or (without Max-Age) `Expires` not after now. */
  readonly deletes: boolean;
  readonly maxAgeSeconds?: number;
  /** `Expires` in ms since the epoch. */
  readonly expires?: number;
}

/**
 * Reads one `Set-Cookie` header value as RFC 6265 5.2 does: attribute names case-insensitive, the
 * last `Max-Age`/`Expires` wins, `Max-Age` overrides `Expires`, dates in the RFC's own lenient
 * grammar (not `Date.parse`, which reads `Expires=0` as the year 2000). Undefined for a header a
 * browser would ignore (no `=` in the first pair, bad name) or that is over the length limit.
 */
export function parseSetCookie(header: string, nowMs: number): SetCookie | undefined {
  if (typeof header !== "string" || header.length > MAX_SET_COOKIE_LENGTH) return undefined;
  let end = header.indexOf(";");
  if (end === -1) end = header.length;
  const eq = header.indexOf("=");
  if (eq === -1 || eq > end) return undefined;
  const name = header.slice(0, eq).trim();
  if (!TOKEN.test(name)) return undefined;
  const value = cookieValue(header, eq + 1, end);
  let maxAgeSeconds: number | undefined;
  let expires: number | undefined;
  while (end < header.length) {
    const start = end + 1;
    end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const av = header.slice(start, end);
    const avEq = av.indexOf("=");
    const attr = (avEq === -1 ? av : av.slice(0, avEq)).trim().toLowerCase();
    const attrValue = avEq === -1 ? "" : av.slice(avEq + 1).trim();
    if (attr === "max-age") {
      // `+ 0` turns -0 into 0.
      if (/^-?[0-9]{1,15}$/.test(attrValue)) maxAgeSeconds = Number(attrValue) + 0;
      else if (/^-?[0-9]+$/.test(attrValue)) maxAgeSeconds = attrValue.startsWith("-") ? -1 : 1e15;
    } else if (attr === "expires") {
      const t = parseCookieDate(attrValue);
      if (t !== undefined) expires = t;
    }
  }
  const deletes =
    maxAgeSeconds !== undefined ? maxAgeSeconds <= 0 : expires !== undefined && expires <= nowMs;
  return { name, value, deletes, maxAgeSeconds, expires };
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
/** RFC 6265 5.1.1 delimiters: tab, and every printable ASCII that is not a digit, letter or `:`. */
const DATE_DELIMITERS = /[\t\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+/;
const TIME = /^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D|$)/;
const DAY = /^(\d{1,2})(?:\D|$)/;
const YEAR = /^(\d{2,4})(?:\D|$)/;

/** The RFC 6265 5.1.1 cookie-date algorithm; ms since the epoch, or undefined if it fails. */
export function parseCookieDate(text: string): number | undefined {
  if (text.length > 256) return undefined;
  let time: [number, number, number] | undefined;
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  for (const token of text.split(DATE_DELIMITERS)) {
    if (token === "") continue;
    const t = time === undefined ? TIME.exec(token) : null;
    if (t !== null) {
      time = [Number(t[1]), Number(t[2]), Number(t[3])];
      continue;
    }
    const d = day === undefined ? DAY.exec(token) : null;
    if (d !== null) {
      day = Number(d[1]);
      continue;
    }
    const mon = month === undefined ? MONTHS.indexOf(token.slice(0, 3).toLowerCase()) : -1;
    if (mon !== -1) {
      month = mon;
      continue;
    }
    const y = year === undefined ? YEAR.exec(token) : null;
    if (y !== null) year = Number(y[1]);
  }
  if (time === undefined || day === undefined || month === undefined || year === undefined) return undefined;
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  const [h, min, s] = time;
  if (day < 1 || day > 31 || year < 1601 || h > 23 || min > 59 || s > 59) return undefined;
  const t = Date.UTC(year, month, day, h, min, s);
  // 31 February and the like roll over into the next month: the RFC says such a date fails.
  return new Date(t).getUTCDate() === day ? t : undefined;
}

export interface SetCookieAttributes {
  readonly path: string;
  /** Empty or undefined: no Domain attribute (a host-only cookie). */
  readonly domain?: string | undefined;
  /** Undefined: a session cookie (no Max-Age, no Expires). */
  readonly maxAgeSeconds: number | undefined;
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly secure: boolean;
}

/**
 * The load balancer's `Set-Cookie` value, attributes in a fixed order (docs/reference/behaviour.md#http_cookie):
 * `NAME=VALUE; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax[; Secure][; Domain=x]`.
 * Throws a TypeError on a name, value, path or domain that would break the header: those come from
 * validated configuration and the codec, so a throw here is a programming error.
 */
export function serializeSetCookie(name: string, value: string, attrs: SetCookieAttributes): string {
  if (!TOKEN.test(name)) throw new TypeError(`invalid cookie name ${JSON.stringify(name)}`);
  if (!COOKIE_VALUE.test(value)) throw new TypeError("invalid cookie value");
  if (!ATTRIBUTE_VALUE.test(attrs.path))
    throw new TypeError(`invalid cookie path ${JSON.stringify(attrs.path)}`);
  const domain = attrs.domain ?? "";
  if (!ATTRIBUTE_VALUE.test(domain)) throw new TypeError(`invalid cookie domain ${JSON.stringify(domain)}`);
  const maxAge = attrs.maxAgeSeconds === undefined ? undefined : Math.max(0, Math.floor(attrs.maxAgeSeconds));
  if (maxAge !== undefined && !Number.isFinite(maxAge))
    throw new TypeError(`invalid Max-Age ${attrs.maxAgeSeconds}`);
  let out = `${name}=${value}`;
  if (attrs.path !== "") out += `; Path=${attrs.path}`;
  // No Max-Age (and no Expires): a session cookie, dropped when the browser closes.
  if (maxAge !== undefined) out += `; Max-Age=${maxAge}`;
  if (attrs.httpOnly) out += "; HttpOnly";
  out += `; SameSite=${attrs.sameSite}`;
  if (attrs.secure) out += "; Secure";
  if (domain !== "") out += `; Domain=${domain}`;
  return out;
}

/** The `Set-Cookie` values among a response's raw header pairs (`[name, value, name, value…]`). */
export function setCookieValues(raw: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === "set-cookie") values.push(raw[i + 1]!);
  }
  return values;
}
