import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, RawClient, sleep, timeouts } from "./wire-support.js";

afterEach(cleanupWire);

const CLIENT_MS = 300;
const IDLE_MS = 400;
const short = { timeouts: timeouts({ clientMs: CLIENT_MS, idleMs: IDLE_MS }) };

describe("client timeouts", () => {
  it("answers 408 and closes when a head never completes", async () => {
    const { member, proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    const sent = Date.now();
    client.write("GET /slow HTTP/1.1\r\nHost: shop.example\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(408);
    expect(answer.header("connection")).toBe("close");
    await client.waitEnded();
    expect(Date.now() - sent).toBeGreaterThanOrEqual(CLIENT_MS / 2);
    expect(proxy.counters.clientTimeouts).toBe(1);
    expect(member.accepted).toBe(0);
  });

  it("answers 408 to a head that trickles in slower than timeouts.client in total", async () => {
    const { proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    const head = "GET /trickle HTTP/1.1\r\nHost: shop.example\r\nX-Slow: yes\r\n\r\n";
    let i = 0;
    const trickle = setInterval(() => {
      if (i < head.length && !client.ended) client.write(head[i++]!);
    }, 50);
    try {
      const answer = await client.response();
      expect(answer.status).toBe(408);
      await client.waitEnded();
    } finally {
      clearInterval(trickle);
    }
    expect(i).toBeLessThan(head.length);
    expect(proxy.counters.clientTimeouts).toBe(1);
  });

  it("answers 408 and closes when the body stops arriving", async () => {
    const { member, proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    client.write("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 10\r\n\r\nabc");
    const answer = await client.response("POST");
    expect(answer.status).toBe(408);
    expect(answer.header("connection")).toBe("close");
    await client.waitEnded();
    expect(proxy.counters.clientTimeouts).toBe(1);
    // The member had the head and the first bytes; its connection is dropped, not reused.
    expect(member.requests[0]!.body.toString()).toBe("abc");
    await expect.poll(() => member.connections[0]!.closed, { timeout: 2_000 }).toBe(true);
  });

  it("closes an idle kept-alive connection after timeouts.idle", async () => {
    const { member, proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    client.write("GET /once HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    expect((await client.response()).status).toBe(200);
    const answered = Date.now();
    await client.waitEnded(3_000);
    const after = client.endedAt - answered;
    expect(after).toBeGreaterThanOrEqual(IDLE_MS / 2);
    expect(after).toBeLessThan(3_000);
    expect(client.unread()).toBe("");
    expect(member.requests).toHaveLength(1);
    // Closing an idle connection is not a client timeout.
    expect(proxy.counters.clientTimeouts).toBe(0);
  });

  it("closes a connection that never sends a byte after timeouts.idle", async () => {
    const { proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    const opened = Date.now();
    await client.waitEnded(3_000);
    expect(client.endedAt - opened).toBeGreaterThanOrEqual(IDLE_MS / 2);
    expect(client.text()).toBe("");
  });

  it("keeps a connection with requests closer together than timeouts.idle", async () => {
    const { member, proxy } = await memberAndProxy(short);
    const client = await RawClient.connect(proxy.port);
    for (let i = 0; i < 4; i++) {
      client.write(`GET /${i} HTTP/1.1\r\nHost: shop.example\r\n\r\n`);
      expect((await client.response()).status).toBe(200);
      await sleep(IDLE_MS / 4);
    }
    expect(client.ended).toBe(false);
    expect(member.requests).toHaveLength(4);
  });

  it("does not apply timeouts.client to a member that is slow to answer", async () => {
    const { member, proxy } = await memberAndProxy(short);
    member.onRequest = (_req, conn) =>
      setTimeout(() => conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow`), CLIENT_MS * 2);
    const client = await RawClient.connect(proxy.port);
    client.write("POST /slow HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 2\r\n\r\nok");
    const answer = await client.response("POST");
    expect(answer.status).toBe(200);
    expect(answer.data.toString()).toBe("slow");
    expect(proxy.counters.clientTimeouts).toBe(0);
    expect(member.requests).toHaveLength(1);
  });

  // timeouts.client bounds the reading of the request, not the member's answer: a bodiless request
  // whose head came in two pieces must not get 408 because the member takes longer than clientMs.
  it("does not answer 408 to a bodiless request whose head came in pieces while the member works", async () => {
    const { member, proxy } = await memberAndProxy(short);
    member.onRequest = (_req, conn) =>
      setTimeout(() => conn.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow"), CLIENT_MS * 2);
    const client = await RawClient.connect(proxy.port);
    client.write("GET /split HTTP/1.1\r\nHost: shop.example\r\n");
    await sleep(20);
    client.write("\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.data.toString()).toBe("slow");
    expect(proxy.counters.clientTimeouts).toBe(0);
  });

  it("does not cut a response that streams longer than timeouts.client after a head in pieces", async () => {
    const { member, proxy } = await memberAndProxy(short);
    member.onRequest = (_req, conn) => {
      conn.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfirst ");
      setTimeout(() => conn.socket.write("ok"), CLIENT_MS * 2);
    };
    const client = await RawClient.connect(proxy.port);
    client.write("GET /download HTTP/1.1\r\n");
    await sleep(20);
    client.write("Host: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.data.toString()).toBe("first ok");
    expect(client.ended).toBe(false);
  });

  it("treats a CRLF after a request that arrives as two pieces as idle time, not a late head", async () => {
    const { member, proxy } = await memberAndProxy({
      timeouts: timeouts({ clientMs: CLIENT_MS, idleMs: 2_000 }),
    });
    const client = await RawClient.connect(proxy.port);
    client.write("POST /form HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 2\r\n\r\nok");
    expect((await client.response("POST")).status).toBe(200);
    // RFC 9112 2.2: the stray CRLF some clients send after a body is ignored.
    client.write("\r");
    await sleep(20);
    client.write("\n");
    await sleep(CLIENT_MS + 150); // past timeouts.client, well below timeouts.idle
    expect(client.unread()).toBe("");
    expect(proxy.counters.clientTimeouts).toBe(0);
    client.write("GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    expect((await client.response()).data.toString()).toBe("GET /next");
    expect(member.requests).toHaveLength(2);
  });
});

describe("a client that reads slowly", () => {
  const BIG = 16 * 1024 * 1024;
  const bigResponse = (conn: { socket: import("node:net").Socket }): void => {
    conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\n\r\n`);
    conn.socket.write(Buffer.alloc(BIG, 0x61));
  };

  it("is not cut by the member timeout while its own reading holds the member back", async () => {
    // The member timeout is long enough for the head to come back on a busy machine (it bounds the
    // wait for the member, and a 504 here would say nothing about slow reading).
    const { member, proxy } = await memberAndProxy({
      timeouts: timeouts({ memberMs: 1_000, idleMs: 20_000 }),
    });
    member.onRequest = (_req, conn) => bigResponse(conn);
    const client = await RawClient.connect(proxy.port);
    client.socket.pause();
    client.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    // Three member timeouts pass with the client reading nothing.
    await sleep(3_000);
    client.socket.resume();
    const response = await client.response("GET", 15_000);
    expect(response.status).toBe(200);
    expect(response.data.length).toBe(BIG);
    expect(proxy.counters.responseAborts).toBe(0);
  });

  it("is cut after its idle timeout when it stops reading for good", async () => {
    // As above, a member timeout long enough for the head to come back on a busy machine.
    const { member, proxy } = await memberAndProxy({
      timeouts: timeouts({ memberMs: 1_000, idleMs: 2_500 }),
    });
    member.onRequest = (_req, conn) => bigResponse(conn);
    const client = await RawClient.connect(proxy.port);
    client.socket.pause();
    client.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    await expect.poll(() => proxy.counters.clientTimeouts, { timeout: 15_000 }).toBe(1);
    expect(proxy.counters.memberTimeouts).toBe(0);
    await expect.poll(() => proxy.openCount(), { timeout: 5_000 }).toBe(0);
    await expect.poll(() => member.connections[0]?.closed, { timeout: 5_000 }).toBe(true);
  });
});
