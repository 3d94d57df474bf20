import { describe, expect, it } from "vitest";
import { parseProxyHeader } from "../../../src/data/listener/proxy-protocol.js";

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(command: number, family: number, addresses: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([V2_SIG, head, addresses]);
}

describe("PROXY protocol parser", () => {
  it("parses v1 TCP4 and TCP6 and reports the header length", () => {
    const line = "PROXY TCP4 192.0.2.7 127.0.0.1 51000 443\r\n";
    expect(parseProxyHeader(Buffer.from(`${line}GET / HTTP/1.1\r\n`))).toEqual({
      kind: "proxy",
      sourceAddress: "192.0.2.7",
      sourcePort: 51000,
      length: line.length,
    });
    expect(parseProxyHeader(Buffer.from("PROXY TCP6 2001:DB8::1 ::1 1 2\r\n"))).toMatchObject({
      kind: "proxy",
      sourceAddress: "2001:db8::1",
    });
    expect(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n"))).toEqual({ kind: "local", length: 15 });
  });

  it("asks for more bytes until a header is complete", () => {
    expect(parseProxyHeader(Buffer.from("PRO"))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(Buffer.from("PROXY TCP4 1.2.3.4"))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(V2_SIG.subarray(0, 5))).toEqual({ kind: "incomplete" });
  });

  it("refuses malformed v1 headers", () => {
    for (const bad of [
      "GET / HTTP/1.1\r\n",
      "PROXY TCP4 1.2.3 127.0.0.1 1 2\r\n",
      "PROXY TCP4 1.2.3.4 127.0.0.1 99999 2\r\n",
      "PROXY UDP4 1.2.3.4 127.0.0.1 1 2\r\n",
      "PROXY TCP4 1.2.3.4 127.0.0.1 1\r\n",
      `PROXY TCP4 ${"1".repeat(120)}`,
    ]) {
      expect(parseProxyHeader(Buffer.from(bad)).kind, bad).toBe("invalid");
    }
  });

  it("parses v2 PROXY over IPv4 and IPv6, and LOCAL", () => {
    const ipv4 = Buffer.from([203, 0, 113, 9, 127, 0, 0, 1, 0xc3, 0x50, 0x01, 0xbb]);
    expect(parseProxyHeader(v2(1, 0x11, ipv4))).toEqual({
      kind: "proxy",
      sourceAddress: "203.0.113.9",
      sourcePort: 50000,
      length: 28,
    });
    const ipv6 = Buffer.alloc(36);
    ipv6.writeUInt16BE(0x2001, 0);
    ipv6.writeUInt16BE(0x0db8, 2);
    ipv6.writeUInt16BE(0x0001, 14);
    ipv6.writeUInt16BE(443, 32);
    expect(parseProxyHeader(v2(1, 0x21, ipv6))).toMatchObject({
      sourceAddress: "2001:db8::1",
      sourcePort: 443,
    });
    const mapped = Buffer.alloc(36);
    mapped.writeUInt16BE(0xffff, 10);
    mapped.set([10, 1, 2, 3], 12);
    expect(parseProxyHeader(v2(1, 0x21, mapped))).toMatchObject({ sourceAddress: "::ffff:10.1.2.3" });
    expect(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ kind: "local", length: 16 });
  });

  it("refuses malformed v2 headers", () => {
    const badVersion = v2(1, 0x11, Buffer.alloc(12));
    badVersion[12] = 0x11;
    expect(parseProxyHeader(badVersion).kind).toBe("invalid");
    expect(parseProxyHeader(v2(1, 0x11, Buffer.alloc(4))).kind).toBe("invalid");
    expect(parseProxyHeader(v2(7, 0x11, Buffer.alloc(12))).kind).toBe("invalid");
    const tooLong = v2(1, 0x11, Buffer.alloc(12));
    tooLong.writeUInt16BE(60000, 14);
    expect(parseProxyHeader(tooLong).kind).toBe("invalid");
  });

  // The specification lists the only valid family/transport bytes (0x00, 0x11, 0x12, 0x21, 0x22,
  // 0x31, 0x32) and says any other "must be rejected as invalid by receivers".
  it.each([
    ["an unknown address family", 0xff],
    ["address family 4", 0x41],
    ["an unknown transport over IPv4", 0x13],
    ["an unknown transport over IPv6", 0x2f],
    ["an unspecified transport over IPv4", 0x10],
    ["an unspecified transport over IPv6", 0x20],
    ["an unknown transport with an unspecified family", 0x01],
  ])("refuses a v2 PROXY header with %s", (_, family) => {
    const outcome = parseProxyHeader(v2(1, family, Buffer.alloc(216)));
    expect(outcome.kind).toBe("invalid");
  });

  it("accepts every listed family and transport on a v2 PROXY header", () => {
    expect(parseProxyHeader(v2(1, 0x12, Buffer.alloc(12))).kind).toBe("proxy");
    expect(parseProxyHeader(v2(1, 0x22, Buffer.alloc(36))).kind).toBe("proxy");
    for (const family of [0x00, 0x31, 0x32])
      expect(parseProxyHeader(v2(1, family, Buffer.alloc(216))).kind, String(family)).toBe("local");
  });

  it("refuses a v2 UNIX address block shorter than its 216 bytes", () => {
    expect(parseProxyHeader(v2(1, 0x31, Buffer.alloc(100))).kind).toBe("invalid");
  });

  it("ignores the family of a v2 LOCAL header, as the specification says", () => {
    expect(parseProxyHeader(v2(0, 0xff, Buffer.alloc(0)))).toEqual({ kind: "local", length: 16 });
  });
});
