/**
 * Upgrades go through the same attempts as any request (`proxy/member-attempt.ts`) but on
 * connections of their own: the retry moves the binding, no upgrade socket ever serves a plain
 * request afterwards, and each upgrade writes one access-log line.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { HttpClientConnection } from "../../../src/data/proxy/http-client-connection.js";
import { persistence } from "./harness.js";
import {
  cleanupWire,
  type MemberConnection,
  RawClient,
  RawMember,
  SWITCHING,
  sleep,
  startWireProxy,
  UPGRADE,
} from "./wire-support.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanupWire();
});

/** A member that switches protocols on an upgrade request and answers `200 METHOD TARGET` otherwise. */
async function upgradingMember(address: string): Promise<RawMember> {
  const member = await RawMember.start(address);
  member.onRequest = (req, conn: MemberConnection) => {
    if (req.header("upgrade") !== undefined) {
      conn.socket.write(SWITCHING);
      return;
    }
    const body = `${req.method} ${req.target}`;
    conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  };
  return member;
}

function accessLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === "access");
}

describe("an upgrade whose member refuses the connection", () => {
  it("is retried on another member, counted like any request, and the client's binding follows (redispatch)", async () => {
    const first = await upgradingMember("127.0.1.2");
    const second = await upgradingMember("127.0.1.3");
    const proxy = await startWireProxy(
      [first, second],
      {},
      { sessionPersistence: persistence({ type: "SOURCE_IP" }) },
    );
    // A plain request binds the client's address to the first member (round robin starts there).
    const plain = await RawClient.connect(proxy.port);
    plain.write("GET /bind HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await plain.response()).status).toBe(200);
    expect(first.requests.map((r) => r.target)).toEqual(["/bind"]);
    plain.destroy();

    // The bound member now refuses connections; the upgrade lands on the other one.
    await first.close();
    const ws = await RawClient.connect(proxy.port);
    ws.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    const answer = await ws.response();
    expect(answer.status).toBe(101);
    expect(second.requests.map((r) => [r.target, r.header("upgrade"), r.header("connection")])).toEqual([
      ["/ws", "websocket", "Upgrade"],
    ]);
    ws.write("ping");
    await expect.poll(() => second.connections[0]!.received.toString().endsWith("ping")).toBe(true);

    expect(proxy.counters.connectFailures).toBe(1);
    expect(proxy.counters.retries).toBe(1);
    expect(proxy.counters.upgrades).toBe(1);
    const decisions = proxy.holder.current.pools.get("web")!.counters.decisions;
    expect(decisions).toMatchObject({ miss: 1, redispatch: 1 });

    // The binding moved with the retry: the next plain request goes to the second member.
    const after = await RawClient.connect(proxy.port);
    after.write("GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await after.response()).status).toBe(200);
    expect(second.requests.map((r) => r.target)).toEqual(["/ws", "/after"]);
    expect(decisions).toMatchObject({ hit: 1 });
  });
});

describe("an upgrade's member connection", () => {
  it("never returns to the keep-alive pool, whether the member switches protocols or refuses", async () => {
    const member = await upgradingMember("127.0.1.2");
    const proxy = await startWireProxy([member]);
    const pools = () => {
      const runtime = proxy.holder.current.pools.get("web")!.members[0]!;
      return proxy.agents.poolFor(runtime);
    };

    // Switched, used, then closed by the client.
    const ws = await RawClient.connect(proxy.port);
    ws.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await ws.response()).status).toBe(101);
    ws.write("frame");
    await expect.poll(() => member.connections[0]!.received.toString().endsWith("frame")).toBe(true);
    ws.destroy();
    await expect.poll(() => member.connections[0]!.closed).toBe(true);
    expect(pools().idleCount).toBe(0);

    // Refused (an ordinary 200 with keep-alive): that connection closes after the answer too.
    member.onRequest = (req, conn) => {
      const body = `${req.method} ${req.target}`;
      conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    };
    const refused = await RawClient.connect(proxy.port);
    refused.write(`GET /ws2 HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await refused.response()).status).toBe(200);
    await refused.waitEnded();
    await expect.poll(() => member.connections[1]!.closed).toBe(true);
    expect(pools().idleCount).toBe(0);

    // A plain request opens a connection of its own: neither upgrade socket carried it.
    const plain = await RawClient.connect(proxy.port);
    plain.write("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await plain.response()).status).toBe(200);
    expect(member.accepted).toBe(3);
    expect(member.connections.map((c) => c.requests.map((r) => r.target))).toEqual([
      ["/ws"],
      ["/ws2"],
      ["/plain"],
    ]);
    // The plain request's connection does go back to the pool.
    await expect.poll(() => pools().idleCount).toBe(1);
  });
});

describe("the access log of an upgrade", () => {
  it("writes one line per upgrade: at the end of a switched one (101, bytes), at the answer of a refused one", async () => {
    const member = await upgradingMember("127.0.1.2");
    const proxy = await startWireProxy([member], { accessLog: true });

    const ws = await RawClient.connect(proxy.port);
    ws.write(`GET /chat?token=secret HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await ws.response()).status).toBe(101);
    ws.write("12345");
    await expect.poll(() => member.connections[0]!.received.toString().endsWith("12345")).toBe(true);
    // Nothing is logged while the upgraded connection lasts.
    await sleep(20);
    expect(accessLines(proxy.logLines)).toEqual([]);
    ws.destroy();
    await expect.poll(() => accessLines(proxy.logLines).length).toBe(1);
    const line = accessLines(proxy.logLines)[0]!;
    expect(line).toMatchObject({
      listener: "web",
      protocol: "HTTP",
      pool: "web",
      member: `${member.address}:${member.port}`,
      status: 101,
      method: "GET",
      path: "/chat",
    });
    expect(line.bytesIn as number).toBeGreaterThan(5);
    expect(line.bytesOut as number).toBeGreaterThan(0);

    member.onRequest = (_req, conn) =>
      conn.socket.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    const refused = await RawClient.connect(proxy.port);
    refused.write(`GET /chat HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await refused.response()).status).toBe(403);
    await refused.waitEnded();
    await sleep(20);
    const lines = accessLines(proxy.logLines);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ status: 403, path: "/chat" });
  });
});

describe("a bug while an upgrade hands its sockets to the relay", () => {
  it("ends both connections (the member's too), is counted, and the listener serves the next client", async () => {
    const member = await upgradingMember("127.0.1.2");
    const proxy = await startWireProxy([member]);
    vi.spyOn(HttpClientConnection.prototype, "upgraded").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    await hit.waitEnded();
    expect(proxy.faults.bySite.upgrade).toBe(1);
    // The member socket was already detached from the HTTP machinery: it is closed all the same.
    await expect.poll(() => member.connections[0]!.closed).toBe(true);
    const member0 = proxy.holder.current.pools.get("web")!.members[0]!;
    expect(member0.active).toBe(0);

    const next = await RawClient.connect(proxy.port);
    next.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await next.response()).status).toBe(101);
  });
});
