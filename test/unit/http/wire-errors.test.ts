import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, RawClient, sleep, timeouts } from "./wire-support.js";

afterEach(cleanupWire);

const get = (path: string, extra = ""): string =>
  `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${extra}\r\n`;

describe("member responses that cannot be trusted → 502", () => {
  const cases: [string, string][] = [
    [
      "Content-Length and Transfer-Encoding",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    [
      "two differing Content-Length",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ],
    ["a Content-Length list of differing values", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"],
    ["garbage instead of HTTP", "this is not http at all\r\n\r\n"],
    ["a bare LF head", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"],
    ["an obs-fold line", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok"],
    // The same strictness as for requests: what llhttp would refuse is never relayed.
    ["two equal Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"],
    ["a Content-Length list of equal values", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"],
    [
      "a chunk-size line with a trailing space",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    ],
    [
      "an empty chunk extension",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    ],
    [
      "Content-Length as a trailer",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\nhello",
    ],
  ];
  for (const [name, response] of cases) {
    it(`${name}`, async () => {
      const { member, proxy } = await memberAndProxy();
      member.onRequest = (_req, conn) => conn.socket.write(response);
      const client = await RawClient.connect(proxy.port);
      client.write(get("/bad"));
      const answer = await client.response();
      expect(answer.status).toBe(502);
      // Nothing of the member's response reaches the client.
      expect(client.text()).not.toContain("hello");
      expect(client.text()).not.toContain("not http");
      expect(proxy.counters.badGateway).toBe(1);
      expect(member.requests).toHaveLength(1);
      // The member connection is not reused.
      await expect.poll(() => member.connections[0]!.closed, { timeout: 2_000 }).toBe(true);
    });
  }

  it("garbage without a head end, then the member closes → 502", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => conn.socket.end("SSH-2.0-OpenSSH_9.6\r\n");
    const client = await RawClient.connect(proxy.port);
    client.write(get("/ssh"));
    const answer = await client.response();
    expect(answer.status).toBe(502);
    expect(client.text()).not.toContain("SSH");
  });

  it("binary garbage → 502", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]));
    const client = await RawClient.connect(proxy.port);
    client.write(get("/tls"));
    expect((await client.response()).status).toBe(502);
  });
});

describe("a member that breaks in the middle of a response", () => {
  it("cuts the client connection after the bytes it had (Content-Length body)", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => {
      conn.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
      setTimeout(() => conn.socket.end(), 50);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/cut"));
    await client.waitEnded();
    const text = client.text();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    expect(body).toBe("0123456789");
    expect(body.length).toBeLessThan(100);
    expect(proxy.counters.responseAborts).toBe(1);
  });

  it("cuts the client connection when the member resets mid chunked body", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => {
      conn.socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      setTimeout(() => conn.socket.resetAndDestroy(), 50);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/cut"));
    await client.waitEnded();
    expect(client.text()).toMatch(/\r\n\r\n5\r\nhello\r\n$/);
    expect(proxy.counters.responseAborts).toBe(1);
  });

  it("cuts the client connection when the member sends a malformed chunk", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => {
      conn.socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      setTimeout(() => conn.socket.write("zz\r\nbad\r\n"), 50);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/cut"));
    await client.waitEnded();
    expect(client.text()).not.toContain("zz");
    expect(proxy.counters.responseAborts).toBe(1);
  });
});

describe("a member silent in the middle of a response", () => {
  it("cuts the client connection after timeouts.member without a byte", async () => {
    const { member, proxy } = await memberAndProxy({ timeouts: timeouts({ memberMs: 300 }) });
    member.onRequest = (_req, conn) =>
      conn.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart");
    const client = await RawClient.connect(proxy.port);
    const sent = Date.now();
    client.write(get("/stall"));
    await client.waitEnded();
    expect(Date.now() - sent).toBeGreaterThanOrEqual(150);
    expect(client.text()).toMatch(/\r\n\r\nstart$/);
    expect(proxy.counters.responseAborts).toBe(1);
    expect(proxy.counters.memberTimeouts).toBe(0);
  });
});

describe("requests refused before any member sees them", () => {
  const cases: [string, string, number][] = [
    ["no Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400],
    ["CONNECT", "CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example:443\r\n\r\n", 405],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: shop.example\r\n\r\n", 505],
    ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: shop.example\r\n\r\n", 505],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["Transfer-Encoding: gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400],
    ["a negative Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400],
    [
      "a Content-Length list of equal values",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
      400,
    ],
    [
      "two equal Content-Length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
      400,
    ],
  ];
  for (const [name, bytes, status] of cases) {
    it(`${name} → ${status}, connection closed`, async () => {
      const { member, proxy } = await memberAndProxy();
      const client = await RawClient.connect(proxy.port);
      client.write(bytes);
      const answer = await client.response();
      expect(answer.status).toBe(status);
      expect(answer.header("connection")).toBe("close");
      await client.waitEnded();
      await sleep(20);
      expect(member.accepted).toBe(0);
      expect(member.allReceived()).toBe("");
    });
  }

  it("a malformed chunked request body → 400, and the member connection is not reused", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n");
    const answer = await client.response("POST");
    expect(answer.status).toBe(400);
    await client.waitEnded();
    expect(proxy.counters.malformed).toBe(1);
    // The member had the head and part of the body; its connection is closed, never reused.
    await expect.poll(() => member.connections.every((c) => c.closed), { timeout: 2_000 }).toBe(true);
    expect(member.allReceived()).not.toContain("zz");
  });

  it.each([
    ["a chunk-size line with a trailing space", "3 \r\nabc\r\n0\r\n\r\n"],
    ["a chunk-size line with a trailing tab", "3\t\r\nabc\r\n0\r\n\r\n"],
    ["a space before a chunk extension", "3 ;ext\r\nabc\r\n0\r\n\r\n"],
    ["a malformed chunk extension", '3;"x"\r\nabc\r\n0\r\n\r\n'],
    ["a trailer line without a colon", "3\r\nabc\r\n0\r\nGET /SMUGGLE2 HTTP/1.1\r\n\r\n"],
    ["NUL in a trailer", "3\r\nabc\r\n0\r\nX-T: a\x00b\r\n\r\n"],
  ])("%s → 400 (counted), and the member never sees the offending line", async (_, body) => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    const answer = await client.response("POST");
    expect(answer.status).toBe(400);
    await client.waitEnded();
    expect(proxy.counters.malformed).toBe(1);
    await expect.poll(() => member.connections.every((c) => c.closed), { timeout: 2_000 }).toBe(true);
    const seen = member.allReceived();
    expect(seen).not.toMatch(/3[ \t;]|SMUGGLE2/);
    expect(seen).not.toContain("\x00");
  });
});
