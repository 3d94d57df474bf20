import type { Socket } from "node:net";
import type { Logger } from "../../core/log.js";

/**
 * PROXY protocol v1 and v2 (haproxy.org/download/2.6/doc/proxy-protocol.txt): the header that a
 * load balancer in front of us sends first, carrying the real client address. Parsing is strict and
 * bounded: v1 at most 107 bytes, v2 at most 16 + 536 bytes; anything else is refused.
 */

export type ProxyHeader =
  /** A proxied connection: the carried source address and port. */
  | {
      readonly kind: "proxy";
      readonly sourceAddress: string;
      readonly sourcePort: number;
      readonly length: number;
    }
  /** A connection of the proxy itself (v2 LOCAL, v1 UNKNOWN): use the socket's own address. */
  | { readonly kind: "local"; readonly length: number };

export type ParseOutcome =
  | ProxyHeader
  | { readonly kind: "incomplete" }
  | { readonly kind: "invalid"; readonly reason: string };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from("PROXY ");
const V1_MAX = 107;
const V2_MAX_ADDRESS_BYTES = 536;
/** The unspecified family, TCP and UDP over IPv4, over IPv6, over UNIX sockets: the only valid family bytes. */
const V2_FAMILIES = new Set([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);

/** Parses a header at the start of `buf`; `incomplete` means more bytes are needed. */
export function parseProxyHeader(buf: Buffer): ParseOutcome {
  if (buf.length === 0) return { kind: "incomplete" };
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50) return parseV1(buf);
  return { kind: "invalid", reason: "no PROXY protocol signature" };
}

function parseV1(buf: Buffer): ParseOutcome {
  const prefixLength = Math.min(buf.length, V1_PREFIX.length);
  if (!buf.subarray(0, prefixLength).equals(V1_PREFIX.subarray(0, prefixLength))) {
    return { kind: "invalid", reason: "no PROXY protocol signature" };
  }
  const end = buf.indexOf("\r\n");
  if (end < 0) {
    return buf.length >= V1_MAX
      ? { kind: "invalid", reason: "v1 header longer than 107 bytes" }
      : { kind: "incomplete" };
  }
  if (end + 2 > V1_MAX) return { kind: "invalid", reason: "v1 header longer than 107 bytes" };
  const line = buf.toString("latin1", 0, end);
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") return { kind: "local", length: end + 2 };
  if (parts.length !== 6) return { kind: "invalid", reason: "v1 header must have 6 fields" };
  const [, family, source, , sourcePort] = parts as [string, string, string, string, string, string];
  if (family !== "TCP4" && family !== "TCP6")
    return { kind: "invalid", reason: `v1 family ${family} is not TCP4/TCP6` };
  const port = Number(sourcePort);
  if (!/^\d{1,5}$/.test(sourcePort) || port > 65535)
    return { kind: "invalid", reason: "v1 source port is not 0–65535" };
  if (family === "TCP4" ? !isIPv4(source) : !source.includes(":")) {
    return { kind: "invalid", reason: `v1 source address ${source} does not match ${family}` };
  }
  return { kind: "proxy", sourceAddress: source.toLowerCase(), sourcePort: port, length: end + 2 };
}

function parseV2(buf: Buffer): ParseOutcome {
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) {
    return { kind: "invalid", reason: "no PROXY protocol signature" };
  }
  if (buf.length < 16) return { kind: "incomplete" };
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) return { kind: "invalid", reason: "v2 version is not 2" };
  const command = versionCommand & 0x0f;
  const family = buf[13]!;
  const addressLength = buf.readUInt16BE(14);
  if (addressLength > V2_MAX_ADDRESS_BYTES) return { kind: "invalid", reason: "v2 address block too long" };
  const length = 16 + addressLength;
  if (buf.length < length) return { kind: "incomplete" };
  if (command === 0x0) return { kind: "local", length };
  if (command !== 0x1) return { kind: "invalid", reason: "v2 command is neither LOCAL nor PROXY" };
  // Only these family/transport bytes exist; the specification says any other "must be rejected
  // as invalid by receivers" (a LOCAL header's family is ignored, above).
  if (!V2_FAMILIES.has(family))
    return { kind: "invalid", reason: `v2 address family and transport 0x${family.toString(16)} unknown` };
  const addressFamily = family >> 4;
  if (addressFamily === 0x1) {
    if (addressLength < 12) return { kind: "invalid", reason: "v2 IPv4 address block too short" };
    const a = buf.subarray(16, 20);
    return {
      kind: "proxy",
      sourceAddress: `${a[0]}.${a[1]}.${a[2]}.${a[3]}`,
      sourcePort: buf.readUInt16BE(24),
      length,
    };
  }
  if (addressFamily === 0x2) {
    if (addressLength < 36) return { kind: "invalid", reason: "v2 IPv6 address block too short" };
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(16 + i * 2).toString(16));
    return { kind: "proxy", sourceAddress: compressIPv6(groups), sourcePort: buf.readUInt16BE(48), length };
  }
  if (addressFamily === 0x3 && addressLength < 216)
    return { kind: "invalid", reason: "v2 UNIX address block too short" };
  // The unspecified family or AF_UNIX: nothing usable as a client IP; treat like LOCAL.
  return { kind: "local", length };
}

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** RFC 5952 text form, so that the same client gives the same SOURCE_IP key however it arrived. */
function compressIPv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength && j - i > 1) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  const head = groups.slice(0, bestStart).join(":");
  const tail = groups.slice(bestStart + bestLength).join(":");
  const text = `${head}::${tail}`;
  // IPv4-mapped addresses read as ::ffff:a.b.c.d so that clientIpKey maps them to IPv4.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (mapped !== null) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return text;
}

/**
 * Reads a PROXY header from the start of `socket`. Once it is complete, the socket is paused, this
 * reader's listeners are removed, and `settle` runs in the same tick with the header and the bytes
 * read past it (before anything else can read the socket); the promise resolves with its result.
 * Rejects on a malformed header, on close, or after `timeoutMs`.
 */
export function readProxyHeaderThen<T>(
  socket: Socket,
  timeoutMs: number,
  settle: (header: ProxyHeader, rest: Buffer) => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, header?: ProxyHeader): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (err !== undefined) reject(err);
      else resolve(settle(header!, buffered.subarray(header!.length)));
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const outcome = parseProxyHeader(buffered);
      if (outcome.kind === "incomplete") return;
      if (outcome.kind === "invalid") done(new Error(`malformed PROXY protocol header: ${outcome.reason}`));
      else done(undefined, outcome);
    };
    const onClose = (): void => done(new Error("connection closed before a PROXY protocol header"));
    const timer = setTimeout(() => done(new Error("no PROXY protocol header in time")), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

/**
 * Reads a PROXY header and pushes any bytes after it back, so that the relay or HTTP parser sees
 * the stream as if the header had never been there.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return readProxyHeaderThen(socket, timeoutMs, (header, rest) => {
    if (rest.length > 0) socket.unshift(rest);
    return header;
  });
}

/**
 * A connection whose PROXY header was missing or malformed: logged (`SLB_ERR_DATA_PROXY_HEADER`)
 * and closed. The caller counts it (`proxy_header_rejected`).
 */
export function refuseProxyHeader(log: Logger, listener: string, socket: Socket, err: Error): void {
  log.warn(
    { listener, client: socket.remoteAddress, reason: err.message, code: "SLB_ERR_DATA_PROXY_HEADER" },
    "PROXY header refused",
  );
  socket.destroy();
}
