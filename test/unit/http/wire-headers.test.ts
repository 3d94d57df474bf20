import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, okResponse, RawClient } from "./wire-support.js";

afterEach(cleanupWire);

describe("hop-by-hop headers of the member's response", () => {
  it("drops Connection: keep-alive, Keep-Alive and the headers named in Connection", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5, max=100\r\n" +
          "X-Secret: s3cr3t\r\nX-Kept: yes\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
      );
    const client = await RawClient.connect(proxy.port);
    client.write("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.header("connection")).toBeUndefined();
    expect(answer.header("keep-alive")).toBeUndefined();
    expect(answer.header("x-secret")).toBeUndefined();
    expect(answer.header("proxy-connection")).toBeUndefined();
    expect(answer.header("x-kept")).toBe("yes");
    expect(answer.header("content-length")).toBe("2");
    expect(answer.data.toString()).toBe("ok");
  });

  it("keeps the member's other headers in their order, spelling and repetition", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write(
        "HTTP/1.1 201 Created Here\r\nx-LOWER-upper: A\r\nSet-Cookie: a=1\r\nVary: Accept\r\n" +
          "Set-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
      );
    const client = await RawClient.connect(proxy.port);
    client.write("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(201);
    expect(answer.reason).toBe("Created Here");
    expect(answer.headers).toEqual([
      ["x-LOWER-upper", "A"],
      ["Set-Cookie", "a=1"],
      ["Vary", "Accept"],
      ["Set-Cookie", "b=2"],
      ["Content-Length", "0"],
    ]);
  });
});

describe("the request towards the member", () => {
  it("sets X-Forwarded-For/-Proto/-Port as documented", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(
      "GET /xff HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n" +
        "x-forwarded-for: 5.6.7.8, 9.9.9.9\r\nX-Forwarded-Port: 9999\r\n\r\n",
    );
    expect((await client.response()).status).toBe(200);
    const seen = member.requests[0]!;
    // Appended to every occurrence the client sent, joined with ", ".
    expect(seen.headerAll("x-forwarded-for")).toEqual(["1.2.3.4, 5.6.7.8, 9.9.9.9, 127.0.0.1"]);
    // Replaced, whatever the client sent.
    expect(seen.headerAll("x-forwarded-proto")).toEqual(["http"]);
    expect(seen.headerAll("x-forwarded-port")).toEqual([String(proxy.port)]);
  });

  it("sets X-Forwarded-For to the client address when the client sent none", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    await client.response();
    expect(member.requests[0]!.headerAll("x-forwarded-for")).toEqual(["127.0.0.1"]);
  });

  it("drops the request's hop-by-hop headers and keeps the others in order and spelling", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(
      "GET /path?q=1 HTTP/1.1\r\nx-first: 1\r\nHost: shop.example\r\nConnection: keep-alive, X-Drop-Me\r\n" +
        "Keep-Alive: 300\r\nX-Drop-Me: gone\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n" +
        "Proxy-Connection: keep-alive\r\nUser-AGENT: raw\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
    );
    expect((await client.response()).status).toBe(200);
    const seen = member.requests[0]!;
    expect(seen.head.split("\r\n")[0]).toBe("GET /path?q=1 HTTP/1.1");
    expect(seen.headers).toEqual([
      ["x-first", "1"],
      ["Host", "shop.example"],
      ["User-AGENT", "raw"],
      ["Cookie", "a=1"],
      ["Cookie", "b=2"],
      ["X-Forwarded-For", "127.0.0.1"],
      ["X-Forwarded-Proto", "http"],
      ["X-Forwarded-Port", String(proxy.port)],
    ]);
  });

  it("passes the request target as sent (absolute form, encoded bytes)", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => conn.socket.write(okResponse(""));
    const client = await RawClient.connect(proxy.port);
    client.write("GET /a%20b/%E2%82%AC?x=%2F&y HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    await client.response();
    expect(member.requests[0]!.target).toBe("/a%20b/%E2%82%AC?x=%2F&y");
  });
});
