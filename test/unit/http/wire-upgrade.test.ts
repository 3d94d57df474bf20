import { afterEach, describe, expect, it, vi } from "vitest";
import { HttpListenerCounters } from "../../../src/data/proxy/http-counters.js";
import { cleanupWire, memberAndProxy, RawClient, SWITCHING, timeouts, UPGRADE } from "./wire-support.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanupWire();
});

describe("an upgrade the member refuses", () => {
  it("relays the answer and closes both connections after its body, even if the member keeps alive", async () => {
    // The member answers 200 with a Content-Length body and keeps its connection open.
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    const response = await client.response();
    expect([response.status, response.data.toString()]).toEqual([200, "GET /ws"]);
    await client.waitEnded();
    await expect.poll(() => member.connections[0]?.closed, { timeout: 3_000 }).toBe(true);
    expect(proxy.openCount()).toBe(0);
  });
});

describe("an upgrade request with a body", () => {
  it("sends the body to the member at once, so the member can answer (no 504)", async () => {
    const { member, proxy } = await memberAndProxy({ timeouts: timeouts({ memberMs: 1_000 }) });
    member.onRequest = (_req, conn) => conn.socket.write(SWITCHING);
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /ws HTTP/1.1\r\n${UPGRADE}Content-Length: 5\r\n\r\nhello`);
    const response = await client.response();
    expect(response.status).toBe(101);
    expect(member.requests[0]!.body.toString()).toBe("hello");
    // Bytes after the 101 flow both ways.
    client.write("ping");
    await expect.poll(() => member.connections[0]!.received.toString().endsWith("ping")).toBe(true);
  });
});

describe("a bug on the upgrade path", () => {
  it("ends that upgrade only, is counted, and the listener serves the next client", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => conn.socket.write(SWITCHING);
    vi.spyOn(HttpListenerCounters.prototype, "countResponse").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    await hit.waitEnded();
    expect(proxy.faults.bySite.upgrade).toBe(1);

    member.onRequest = (req, conn) =>
      conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${req.target.length}\r\n\r\n${req.target}`);
    const next = await RawClient.connect(proxy.port);
    next.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await next.response()).status).toBe(200);
  });
});
