/**
 * How long a message body is (RFC 9112 section 6.3), decided from its head once. Requests are
 * judged strictly, since an ambiguous request is the raw material of smuggling: `Content-Length`
 * with `Transfer-Encoding`, differing or malformed `Content-Length` values and any transfer coding
 * other than a lone `chunked` are refused (400). Responses come from members we trust a little
 * more, but an ambiguous one is still refused (502) rather than guessed at.
 */

export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  /** A response that ends when the member closes the connection. */
  | { readonly kind: "close" };

export const NO_BODY: BodyFraming = { kind: "none" };
const CHUNKED: BodyFraming = { kind: "chunked" };
const UNTIL_CLOSE: BodyFraming = { kind: "close" };

/** A framing that cannot be trusted, with the reason for logs. */
export class FramingError {
  constructor(readonly reason: string) {}
}

/**
 * Strips optional whitespace (SP, HTAB: RFC 9110 5.6.3) and nothing else: `String#trim` would also
 * strip NO-BREAK SPACE and other Unicode spaces, which a stricter peer may not, and disagreeing on
 * a framing value is exactly what smuggling needs.
 */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Digits only (no sign, no spaces inside, no hex) and at most 15 of them: exact as a number. */
function contentLengthOf(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(value);
}

/**
 * Reads `Content-Length` and `Transfer-Encoding` from a flat raw header array. One
 * `Content-Length` with one value only: RFC 9110 8.6 lets a recipient accept a list or repeated
 * headers of equal values as one, but llhttp refuses them, and a message that one parser behind us
 * refuses and another reads must not pass.
 */
function framingHeaders(raw: readonly string[]): { length: number; te: string | undefined } | FramingError {
  let length = -2; // -2: absent
  let te: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Cheap first test on the length of the name before any case folding.
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      const value = raw[i + 1]!;
      if (length !== -2) {
        const v = contentLengthOf(value);
        return new FramingError(
          v >= 0 && v === length ? "repeated Content-Length" : "differing Content-Length",
        );
      }
      if (value.includes(",")) return new FramingError("a list of Content-Length values");
      length = contentLengthOf(value);
      if (length < 0) return new FramingError("invalid Content-Length");
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      te = te === undefined ? raw[i + 1]! : `${te}, ${raw[i + 1]!}`;
    }
  }
  return { length, te };
}

/** The framing of a request body; HTTP/1.0 (`minor` 0) has no chunked requests. */
export function requestFraming(raw: readonly string[], minor: number): BodyFraming | FramingError {
  const h = framingHeaders(raw);
  if (h instanceof FramingError) return h;
  if (h.te !== undefined) {
    if (h.length !== -2) return new FramingError("Content-Length with Transfer-Encoding");
    if (minor === 0) return new FramingError("Transfer-Encoding in an HTTP/1.0 request");
    if (trimOws(h.te).toLowerCase() !== "chunked")
      return new FramingError("Transfer-Encoding other than chunked");
    return CHUNKED;
  }
  if (h.length > 0) return { kind: "length", length: h.length };
  return NO_BODY;
}

/**
 * The framing of a response to `method` with `status` (RFC 9112 6.3 rules 1–7): no body for HEAD,
 * 1xx, 204 and 304; chunked when `chunked` is the final coding; `Content-Length`; else until close.
 */
export function responseFraming(
  raw: readonly string[],
  status: number,
  method: string,
): BodyFraming | FramingError {
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) return NO_BODY;
  const h = framingHeaders(raw);
  if (h instanceof FramingError) return h;
  if (h.te !== undefined) {
    // RFC 9112 6.3 would let Transfer-Encoding win; forwarding both is how caches get poisoned.
    if (h.length !== -2) return new FramingError("Content-Length with Transfer-Encoding");
    const codings = h.te.toLowerCase().split(",");
    return trimOws(codings[codings.length - 1]!) === "chunked" ? CHUNKED : UNTIL_CLOSE;
  }
  if (h.length >= 0) return h.length === 0 ? NO_BODY : { kind: "length", length: h.length };
  return UNTIL_CLOSE;
}
