/**
 * A strict HTTP/1.x head parser (RFC 9112) for the forwarding path. It is the one place where a
 * request or response head is read from the wire, and it refuses everything a lenient parser
 * would guess at, because two parsers guessing differently is how requests are smuggled
 * (docs/http.md): bare LF or CR, obs-fold continuation lines, whitespace or any non-token byte in a header
 * name, control bytes in values, an unknown HTTP version, a head over the size bound.
 *
 * Bytes are read straight from the socket's Buffers; strings are made only for what is kept
 * (method, target, header names and values, in latin1 as on the wire). Header names keep their
 * spelling and order, repeated headers stay repeated: `raw` is a flat `[name, value, …]` array.
 */
import { FIELD_VALUE, TOKEN } from "./byte-classes.js";

/** docs/reference/behaviour.md#http-forwarding: a request head over 64 KiB yields 431. */
export const MAX_HEAD_BYTES = 65_536;
/** Header lines per head: past this the head is "too large" whatever its byte count. */
export const MAX_HEADER_LINES = 1_000;

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin-form, absolute-form, asterisk or authority form). */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  /** `[name, value, …]`, names as spelled on the wire, values without surrounding whitespace. */
  readonly raw: string[];
}

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly minor: number;
  readonly raw: string[];
}

/** Why a head was refused: the status to answer (for a request) and a reason for logs. */
export class HeadError {
  constructor(
    readonly status: 400 | 431 | 505,
    readonly reason: string,
  ) {}
}

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * `buf.toString("latin1", start, end)` without the generic wrapper (encoding lookup, bounds
 * coercion), which was a tenth of the parser's time in the profile: the bounds here are already
 * checked. `latin1Slice` is the method Buffer itself dispatches to (Node 20 and 24).
 */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/**
 * Finds the end of a head across the chunks of a connection. `feed` is given the buffer holding
 * the head so far (from `start`) and returns the index just past the blank line, -1 while the
 * head is incomplete, or a {@link HeadError}. Between calls it remembers how far it looked, so a
 * head that arrives byte by byte is still scanned once (a slow client costs no quadratic work).
 */
export class HeadScanner {
  /** Where the line being read starts, relative to the head's first byte. */
  private lineStart = 0;
  /** How far the head has been searched, relative to its first byte. */
  private searched = 0;

  reset(): void {
    this.lineStart = 0;
    this.searched = 0;
  }

  feed(buf: Buffer, start: number, end: number, maxBytes = MAX_HEAD_BYTES): number | HeadError {
    let i = start + this.searched;
    let lineStart = start + this.lineStart;
    const limit = Math.min(end, start + maxBytes);
    while (i < limit) {
      const lf = buf.indexOf(LF, i);
      if (lf === -1 || lf >= limit) break;
      if (lf === start || buf[lf - 1] !== CR) return new HeadError(400, "bare LF in the head");
      if (lf - 1 === lineStart) {
        // A blank line: the head ends here. A head that starts with one is not a head at all.
        if (lineStart === start) return new HeadError(400, "empty line before the head");
        this.reset();
        return lf + 1;
      }
      lineStart = lf + 1;
      i = lf + 1;
    }
    if (end - start >= maxBytes) return new HeadError(431, "head too large");
    this.lineStart = lineStart - start;
    this.searched = limit - start;
    return -1;
  }
}

/** Reads header lines from `pos` to `end` (the index after the blank line) into `raw`. */
function parseFields(buf: Buffer, pos: number, end: number, raw: string[]): HeadError | undefined {
  // The byte tables as locals: an imported binding is read through its module cell with a
  // not-yet-initialised check on every access, and these loops run once per byte of every head
  // (docs/performance.md, "CPU per request after the runtime restructuring").
  const token = TOKEN;
  const fieldValue = FIELD_VALUE;
  let lines = 0;
  while (pos < end - 2) {
    const lf = buf.indexOf(LF, pos);
    const lineEnd = lf - 1; // the CR; the scanner checked it is one
    if (++lines > MAX_HEADER_LINES) return new HeadError(431, "too many header lines");
    const first = buf[pos]!;
    if (first === SP || first === HTAB) return new HeadError(400, "obs-fold line in the head");
    let colon = pos;
    while (colon < lineEnd && token[buf[colon]!] === 1) colon++;
    if (colon === pos || colon === lineEnd || buf[colon] !== COLON)
      return new HeadError(400, "invalid header name");
    let valueStart = colon + 1;
    while (valueStart < lineEnd && (buf[valueStart] === SP || buf[valueStart] === HTAB)) valueStart++;
    let valueEnd = lineEnd;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    for (let k = valueStart; k < valueEnd; k++)
      if (fieldValue[buf[k]!] !== 1) return new HeadError(400, "control byte in a header value");
    raw.push(latin1(buf, pos, colon), latin1(buf, valueStart, valueEnd));
    pos = lf + 1;
  }
  return undefined;
}

/**
 * absolute-form (RFC 9112 3.2.2) as llhttp reads it: a scheme of letters only, `://`, a non-empty
 * authority of unreserved, sub-delims, `%`, `:`, `@` and IP-literal brackets, then nothing or a
 * path or query (checked byte-wise above). llhttp refuses `+`, `-`, `.` in a scheme and a fragment
 * right after the authority, which RFC 3986 allows: stricter wins.
 */
const ABSOLUTE_FORM = /^[A-Za-z]+:\/\/[A-Za-z0-9._~:@[\]%!$&'()*+,;=-]+(?:[/?].*)?$/s;

/**
 * One of the forms of RFC 9112 3.2: origin-form (`/…`), asterisk (`*`), absolute-form, and
 * authority-form for CONNECT only — what llhttp accepts, and nothing a member could read otherwise.
 */
function targetFormOk(target: string, method: string): boolean {
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */) return true;
  if (target === "*") return true;
  if (method === "CONNECT") return true;
  return ABSOLUTE_FORM.test(target);
}

/** `HTTP/1.0` or `HTTP/1.1` at `pos`: the minor version, else -1. */
function versionAt(buf: Buffer, pos: number): number {
  if (
    buf[pos] !== 0x48 || // H
    buf[pos + 1] !== 0x54 || // T
    buf[pos + 2] !== 0x54 || // T
    buf[pos + 3] !== 0x50 || // P
    buf[pos + 4] !== 0x2f || // /
    buf[pos + 5] !== 0x31 || // 1
    buf[pos + 6] !== 0x2e // .
  )
    return -1;
  const minor = buf[pos + 7]!;
  return minor === 0x30 ? 0 : minor === 0x31 ? 1 : -1;
}

/**
 * Parses a complete request head `buf[start, end)` (`end` as returned by {@link HeadScanner}):
 * `METHOD SP request-target SP HTTP/1.x CRLF *(field-line CRLF) CRLF`.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number): RequestHead | HeadError {
  const lf = buf.indexOf(LF, start);
  const lineEnd = lf - 1;
  let p = start;
  const token = TOKEN; // a local, as in parseFields
  while (p < lineEnd && token[buf[p]!] === 1) p++;
  if (p === start || buf[p] !== SP) return new HeadError(400, "invalid method");
  const method = latin1(buf, start, p);
  const targetStart = ++p;
  // Visible ASCII only: a target is a URI reference (RFC 3986), and llhttp refuses raw obs-text
  // (UTF-8 paths must be percent-encoded), so a member behind us may too.
  while (p < lineEnd && buf[p]! > SP && buf[p]! < 0x7f) p++;
  if (p === targetStart || buf[p] !== SP) return new HeadError(400, "invalid request target");
  const target = latin1(buf, targetStart, p);
  if (!targetFormOk(target, method)) return new HeadError(400, "invalid request target");
  if (lineEnd - (p + 1) !== 8) return new HeadError(400, "invalid request line");
  const minor = versionAt(buf, p + 1);
  if (minor === -1) {
    // A well-formed version we do not speak (HTTP/2.0, HTTP/1.2…) is 505, anything else 400.
    return /^HTTP\/\d\.\d$/.test(buf.toString("latin1", p + 1, lineEnd))
      ? new HeadError(505, "HTTP version not supported")
      : new HeadError(400, "invalid HTTP version");
  }
  const raw: string[] = [];
  const failure = parseFields(buf, lf + 1, end, raw);
  if (failure !== undefined) return failure;
  return { method, target, minor, raw };
}

/** Parses a complete response head: `HTTP/1.x SP 3DIGIT SP [reason] CRLF *(field-line CRLF) CRLF`. */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead | HeadError {
  const lf = buf.indexOf(LF, start);
  const lineEnd = lf - 1;
  const minor = versionAt(buf, start);
  if (minor === -1 || buf[start + 8] !== SP) return new HeadError(400, "invalid status line");
  let status = 0;
  for (let k = start + 9; k < start + 12; k++) {
    const d = buf[k]! - 0x30;
    if (k >= lineEnd || d < 0 || d > 9) return new HeadError(400, "invalid status code");
    status = status * 10 + d;
  }
  if (status < 100) return new HeadError(400, "invalid status code");
  let reason = "";
  if (start + 12 < lineEnd) {
    if (buf[start + 12] !== SP) return new HeadError(400, "invalid status line");
    const fieldValue = FIELD_VALUE; // a local, as in parseFields
    for (let k = start + 13; k < lineEnd; k++)
      if (fieldValue[buf[k]!] !== 1) return new HeadError(400, "control byte in the reason phrase");
    reason = latin1(buf, start + 13, lineEnd);
  }
  const raw: string[] = [];
  const failure = parseFields(buf, lf + 1, end, raw);
  if (failure !== undefined) return failure;
  return { status, reason, minor, raw };
}
