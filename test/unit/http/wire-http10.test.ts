import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, RawClient, sleep } from "./wire-support.js";

afterEach(cleanupWire);

describe("HTTP/1.0 clients", () => {
  it("closes the connection after the response without Connection: keep-alive", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write("GET /old HTTP/1.0\r\nHost: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.data.toString()).toBe("GET /old");
    expect(answer.header("connection")).toBe("close");
    await client.waitEnded();
    expect(client.unread()).toBe("");
    // The member hop is HTTP/1.1 whatever the client spoke.
    expect(member.requests[0]!.head.split("\r\n")[0]).toBe("GET /old HTTP/1.1");
  });

  it("keeps the connection open with Connection: keep-alive and says so in the response", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    const request = "GET /ka HTTP/1.0\r\nHost: shop.example\r\nConnection: keep-alive\r\n\r\n";
    client.write(request);
    const first = await client.response();
    expect(first.status).toBe(200);
    expect(first.header("connection")).toBe("keep-alive");
    await sleep(100);
    expect(client.ended).toBe(false);
    client.write(request);
    const second = await client.response();
    expect(second.data.toString()).toBe("GET /ka");
    expect(second.header("connection")).toBe("keep-alive");
    expect(member.requests).toHaveLength(2);
    expect(client.ended).toBe(false);
  });

  it("gives a Host to the member hop when an HTTP/1.0 client sent none", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write("GET /nohost HTTP/1.0\r\n\r\n");
    expect((await client.response()).status).toBe(200);
    expect(member.requests[0]!.headerAll("host")).toEqual([`127.0.0.1:${member.port}`]);
  });

  for (const keepAlive of [false, true]) {
    it(`de-chunks a chunked member response and closes the connection (keep-alive asked: ${keepAlive})`, async () => {
      const { member, proxy } = await memberAndProxy();
      member.onRequest = (_req, conn) => {
        conn.socket.write(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-App: 1\r\n\r\n5;ext=1\r\nhello\r\n",
        );
        setTimeout(() => conn.socket.write("6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"), 30);
      };
      const client = await RawClient.connect(proxy.port);
      client.write(
        `GET /chunks HTTP/1.0\r\nHost: shop.example\r\n${keepAlive ? "Connection: keep-alive\r\n" : ""}\r\n`,
      );
      await client.waitEnded();
      const text = client.text();
      const headEnd = text.indexOf("\r\n\r\n");
      const head = text.slice(0, headEnd);
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(head).not.toMatch(/transfer-encoding/i);
      expect(head).toMatch(/\r\nConnection: close(\r\n|$)/);
      expect(head).toContain("\r\nX-App: 1");
      expect(text.slice(headEnd + 4)).toBe("hello world");
    });
  }
});
