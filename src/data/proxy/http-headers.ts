/**
 * Header rewriting between client and member (docs/reference/behaviour.md#http-forwarding, RFC 9110 section 7.6.1): hop-by-hop
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

/**
 * Name lengths that may need a look (hop-by-hop, X-Forwarded-*): any other name passes without
 * being lower-cased, which most headers of most messages do (a profile showed the case folding).
 */
const LOOKED_AT_LENGTHS = new Uint8Array(32);
for (const name of [...HOP_BY_HOP, ...FORWARDED_SET, "x-forwarded-for"]) LOOKED_AT_LENGTHS[name.length] = 1;

/** Whether a header name must be lower-cased to be judged, given the `Connection` tokens. */
function needsLook(name: string, drop: ReadonlySet<string>): boolean {
  return drop.size > 0 || (name.length < 32 && LOOKED_AT_LENGTHS[name.length] === 1);
}

/** What the `Connection` headers of a message say. */
export interface ConnectionInfo {
  readonly close: boolean;
  readonly keepAlive: boolean;
  readonly upgrade: boolean;
  /**
   * Other header names listed (lower case): hop-by-hop for this message. The usual tokens
   * (`close`, `keep-alive`, `upgrade`) are not in it: they name no header or one that is
   * hop-by-hop anyway, so most messages need no per-header look.
   */
  readonly drop: ReadonlySet<string>;
}

const NO_TOKENS: ReadonlySet<string> = new Set();
const NO_CONNECTION_HEADER: ConnectionInfo = {
  close: false,
  keepAlive: false,
  upgrade: false,
  drop: NO_TOKENS,
};

/** Reads every `Connection` header of a message once. */
export function connectionInfo(raw: readonly string[]): ConnectionInfo {
  let close = false;
  let keepAlive = false;
  let upgrade = false;
  let drop: Set<string> | undefined;
  let seen = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const header = raw[i]!;
    if (header.length !== 10 || header.toLowerCase() !== "connection") continue;
    seen = true;
    for (const t of raw[i + 1]!.split(",")) {
      const token = t.trim().toLowerCase();
      if (token === "close") close = true;
      else if (token === "keep-alive") keepAlive = true;
      else if (token === "upgrade") upgrade = true;
      else if (token !== "" && !HOP_BY_HOP.has(token)) {
        drop ??= new Set();
        drop.add(token);
      }
    }
  }
  if (!seen) return NO_CONNECTION_HEADER;
  return { close, keepAlive, upgrade, drop: drop ?? NO_TOKENS };
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
export function requestHeadersForMember(
  raw: readonly string[],
  facts: ForwardingFacts,
  connection: ConnectionInfo = connectionInfo(raw),
): string[] {
  const drop = connection.drop;
  const out: string[] = [];
  const forwardedFor: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!needsLook(name, drop)) {
      out.push(name, raw[i + 1]!);
      continue;
    }
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
  if (facts.chunked) out.push("Transfer-Encoding", "chunked");
  if (facts.upgrade !== undefined) out.push("Connection", "Upgrade", "Upgrade", facts.upgrade);
  return out;
}

/**
 * Headers of the member's response towards the client. For a `101` the `Upgrade` and
 * `Connection` headers are kept: they are the handshake itself.
 */
export function responseHeadersForClient(
  raw: readonly string[],
  upgrade = false,
  connection: ConnectionInfo = connectionInfo(raw),
): string[] {
  const drop = connection.drop;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!needsLook(name, drop)) {
      out.push(name, raw[i + 1]!);
      continue;
    }
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
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) values.push(raw[i + 1]!);
  }
  return values;
}

/** The first value of a header (case-insensitive name), or undefined. */
export function firstHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

/** How many times a header occurs (case-insensitive name). */
export function headerCount(raw: readonly string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) n++;
  }
  return n;
}
