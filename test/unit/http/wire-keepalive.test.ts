import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, okResponse, RawClient, sleep } from "./wire-support.js";

afterEach(cleanupWire);

const get = (path: string, extra = ""): string =>
  `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${extra}\r\n`;

describe("member keep-alive connections", () => {
  it("carries 10 sequential requests of one client connection on one member connection", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    for (let i = 0; i < 10; i++) {
      client.write(get(`/r${i}`));
      const answer = await client.response();
      expect(answer.data.toString()).toBe(`GET /r${i}`);
      expect(answer.header("x-conn")).toBe("1");
    }
    expect(member.accepted).toBe(1);
    expect(member.requests).toHaveLength(10);
  });

  it("reuses the member connection across client connections", async () => {
    const { member, proxy } = await memberAndProxy();
    for (let i = 0; i < 5; i++) {
      const client = await RawClient.connect(proxy.port);
      client.write(get(`/c${i}`, "Connection: close\r\n"));
      expect((await client.response()).status).toBe(200);
      await client.waitEnded();
    }
    expect(member.accepted).toBe(1);
  });

  it("opens a new member connection after a response with Connection: close", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (req, conn) => {
      // The first answer says close but the member leaves its socket open: the proxy must not reuse it.
      const extra = req.target === "/first" ? "Connection: close\r\n" : "";
      conn.socket.write(okResponse(`${req.target} on ${conn.id}`, extra));
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/first"));
    const first = await client.response();
    expect(first.data.toString()).toBe("/first on 1");
    // The member's Connection: close is its own hop: the client connection stays open.
    expect(first.header("connection")).toBeUndefined();
    client.write(get("/second"));
    expect((await client.response()).data.toString()).toBe("/second on 2");
    client.write(get("/third"));
    expect((await client.response()).data.toString()).toBe("/third on 2");
    expect(member.accepted).toBe(2);
    await expect.poll(() => member.connections[0]!.closed, { timeout: 2_000 }).toBe(true);
    expect(client.ended).toBe(false);
  });

  it("opens a new member connection after an HTTP/1.0 response without keep-alive", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (req, conn) => {
      const version = req.target === "/old" ? "1.0" : "1.1";
      conn.socket.write(`HTTP/${version} 200 OK\r\nContent-Length: 1\r\n\r\n${conn.id}`);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/old"));
    expect((await client.response()).data.toString()).toBe("1");
    client.write(get("/new"));
    expect((await client.response()).data.toString()).toBe("2");
    client.write(get("/new"));
    expect((await client.response()).data.toString()).toBe("2");
    expect(member.accepted).toBe(2);
  });

  it("uses a new member connection when the member closed the idle one", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(get("/a"));
    expect((await client.response()).status).toBe(200);
    // The member closes its idle connection between two requests of the client.
    member.connections[0]!.socket.end();
    await sleep(20);
    client.write(get("/b"));
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.data.toString()).toBe("GET /b");
    expect(member.accepted).toBe(2);
    expect(proxy.counters.badGateway).toBe(0);
  });
});
