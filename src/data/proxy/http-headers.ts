/**
 * Header rewriting between client and member (SPEC 6.6, RFC 9110 section 7.6.1): hop-by-hop
 * headers stay on their hop, the `X-Forwarded-*` headers describe the client's hop, everything
 * else (Host included) passes in its original order and spelling. Works on `rawHeaders`-style
 * flat arrays so that nothing is parsed twice and repeated headers stay repeated.
 */

/** Hop-by-hop headers of RFC 9110 7.6.1 plus the non-standard ones proxies still meet. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

const FORWARDED_SET = new Set(["x-forwarded-proto", "x-forwarded-port"]);

/** The lower-case header names listed in `Connection` headers: they are hop-by-hop too. */
export function connectionTokens(raw: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "connection") continue;
    for (const t of raw[i + 1]!.split(",")) {
      const name = t.trim().toLowerCase();
      if (name !== "") tokens.add(name);
    }
  }
  return tokens;
}

export interface ForwardingFacts {
  /** The client's address as seen by this hop. */
  readonly clientIp: string;
  readonly proto: "http" | "https";
  /** The listener's port. */
  readonly port: number;
  /** A WebSocket (or other) upgrade: `Upgrade` and `Connection: Upgrade` are forwarded. */
  readonly upgrade: string | undefined;
  /** The client sent a chunked body: the member hop needs its own chunked framing. */
  readonly chunked: boolean;
}

/** Headers of the request towards the member, as a flat `[name, value, …]` array. */
export function requestHeadersForMember(raw: readonly string[], facts: ForwardingFacts): string[] {
  const drop = connectionTokens(raw);
  const out: string[] = [];
  const forwardedFor: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || drop.has(lower) || FORWARDED_SET.has(lower)) continue;
    if (lower === "x-forwarded-for") {
      forwardedFor.push(raw[i + 1]!);
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  forwardedFor.push(facts.clientIp);
  out.push("X-Forwarded-For", forwardedFor.join(", "));
  out.push("X-Forwarded-Proto", facts.proto, "X-Forwarded-Port", String(facts.port));
  if (facts.upgrade !== undefined) out.push("Connection", "Upgrade", "Upgrade", facts.upgrade);
  else if (facts.chunked) out.push("Transfer-Encoding", "chunked");
  return out;
}

/**
 * Headers of the member's response towards the client. For a `101` the `Upgrade` and
 * `Connection` headers are kept: they are the handshake itself.
 */
export function responseHeadersForClient(raw: readonly string[], upgrade = false): string[] {
  const drop = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (upgrade && (lower === "upgrade" || lower === "connection")) {
      out.push(name, raw[i + 1]!);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || drop.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** Values of a header in a flat raw array (case-insensitive name). */
export function headerValues(raw: readonly string[], lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === lowerName) values.push(raw[i + 1]!);
  return values;
}

/**
 * Defence in depth against request smuggling (RFC 9112 6.3). Node's strict parser already refuses
 * these; checking again costs little and keeps the guarantee if a parser flag ever changes.
 * Returns the reason to refuse, or undefined.
 */
export function ambiguousFraming(raw: readonly string[]): string | undefined {
  let contentLength: string | undefined;
  let transferEncoding = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === "transfer-encoding") transferEncoding = true;
    else if (lower === "content-length") {
      const v = raw[i + 1]!.trim();
      if (!/^\d+$/.test(v)) return "invalid Content-Length";
      if (contentLength !== undefined && contentLength !== v) return "differing Content-Length";
      contentLength = v;
    }
  }
  if (transferEncoding && contentLength !== undefined) return "Content-Length with Transfer-Encoding";
  return undefined;
}
