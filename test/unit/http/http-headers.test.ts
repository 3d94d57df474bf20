import { describe, expect, it } from "vitest";
import {
  connectionInfo,
  firstHeader,
  headerCount,
  requestHeadersForMember,
  responseHeadersForClient,
} from "../../../src/data/proxy/http-headers.js";

const facts = {
  clientIp: "10.0.0.9",
  proto: "https" as const,
  port: 8443,
  upgrade: undefined,
  chunked: false,
};

function toPairs(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

describe("requestHeadersForMember", () => {
  it("drops hop-by-hop headers and those named in Connection, keeps Host and order", () => {
    const out = requestHeadersForMember(
      [
        "Host",
        "www.example.com",
        "Connection",
        "keep-alive, X-Secret",
        "Keep-Alive",
        "timeout=5",
        "X-Secret",
        "s",
        "TE",
        "trailers",
        "Proxy-Connection",
        "keep-alive",
        "Upgrade",
        "h2c",
        "Trailer",
        "X",
        "Accept",
        "a",
        "Accept",
        "b",
      ],
      facts,
    );
    expect(toPairs(out)).toEqual([
      ["Host", "www.example.com"],
      ["Accept", "a"],
      ["Accept", "b"],
      ["X-Forwarded-For", "10.0.0.9"],
      ["X-Forwarded-Proto", "https"],
      ["X-Forwarded-Port", "8443"],
    ]);
  });

  it("appends the client to X-Forwarded-For and replaces X-Forwarded-Proto/Port", () => {
    const out = requestHeadersForMember(
      [
        "Host",
        "h",
        "X-Forwarded-For",
        "1.1.1.1",
        "x-forwarded-for",
        "2.2.2.2",
        "X-Forwarded-Proto",
        "gopher",
        "X-Forwarded-Port",
        "1",
      ],
      facts,
    );
    expect(toPairs(out)).toEqual([
      ["Host", "h"],
      ["X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.9"],
      ["X-Forwarded-Proto", "https"],
      ["X-Forwarded-Port", "8443"],
    ]);
  });

  it("re-frames a chunked body for the member hop and keeps an upgrade's handshake", () => {
    const chunked = requestHeadersForMember(["Host", "h", "Transfer-Encoding", "chunked"], {
      ...facts,
      chunked: true,
    });
    expect(toPairs(chunked).at(-1)).toEqual(["Transfer-Encoding", "chunked"]);
    const ws = requestHeadersForMember(["Host", "h", "Connection", "Upgrade", "Upgrade", "websocket"], {
      ...facts,
      upgrade: "websocket",
    });
    expect(toPairs(ws).slice(-2)).toEqual([
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
    ]);
  });
});

describe("responseHeadersForClient", () => {
  it("drops hop-by-hop headers but keeps repeated Set-Cookie", () => {
    const out = responseHeadersForClient([
      "Set-Cookie",
      "a=1",
      "Connection",
      "close, X-Hop",
      "X-Hop",
      "1",
      "Transfer-Encoding",
      "chunked",
      "Set-Cookie",
      "b=2",
    ]);
    expect(toPairs(out)).toEqual([
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
    ]);
  });

  it("keeps Upgrade and Connection on a 101", () => {
    const out = responseHeadersForClient(
      ["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "x"],
      true,
    );
    expect(out).toEqual(["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "x"]);
  });
});

describe("connectionInfo, firstHeader, headerCount", () => {
  it("reads Connection tokens across headers, case-insensitively", () => {
    const info = connectionInfo(["connection", "Keep-Alive, X-Foo", "CONNECTION", " Upgrade , te"]);
    expect([info.keepAlive, info.upgrade, info.close]).toEqual([true, true, false]);
    // Only names that are not hop-by-hop anyway are listed to drop.
    expect([...info.drop]).toEqual(["x-foo"]);
    expect(connectionInfo(["Connection", "close"]).close).toBe(true);
    expect(connectionInfo(["X-Connection", "close"]).close).toBe(false);
    expect(connectionInfo(["Host", "h"]).drop.size).toBe(0);
  });

  it("finds the first value and counts repeats", () => {
    const raw = ["Host", "a", "X", "1", "HOST", "b"];
    expect(firstHeader(raw, "host")).toBe("a");
    expect(firstHeader(raw, "cookie")).toBeUndefined();
    expect(headerCount(raw, "host")).toBe(2);
    expect(headerCount(raw, "x")).toBe(1);
  });
});
