/**
 * A `101` whose answer taught a binding the shared store must acknowledge (an APP_COOKIE set on
 * the answer) waits for that acknowledgement like any response head: the member socket paused,
 * its bytes after the 101 kept in order, the client's bytes kept too. A client that leaves
 * meanwhile gets nothing written, the member connection closes, the claim is released and the
 * access log has one line; a bug in the switch ends that upgrade only (as a bug after an ordinary
 * response's wait ends that exchange, its member connection closed). The acknowledgement is
 * stood in for here (the store itself is in test/e2e/shared-state-websocket.test.ts).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { PlacedClient } from "../../../src/data/affinity/placement-front.js";
import { HttpClientConnection } from "../../../src/data/proxy/http-client-connection.js";
import { Exchange } from "../../../src/data/proxy/http-forward.js";
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

/** Every answer from now on teaches a binding whose acknowledgement comes when `release` is called. */
function storeAckHeld(): { release(): void } {
  let release!: () => void;
  const ack = new Promise<void>((resolve) => {
    release = resolve;
  });
  const answered = PlacedClient.prototype.answered;
  vi.spyOn(PlacedClient.prototype, "answered").mockImplementation(function (this: PlacedClient, member, raw) {
    const out = answered.call(this, member, raw);
    this.storeAck = ack;
    return out;
  });
  return { release };
}

/** A member that answers an upgrade with a 101 and the first frame right behind it. */
async function switchingMember(): Promise<{ member: RawMember; conn: () => MemberConnection }> {
  const member = await RawMember.start("127.0.1.2");
  member.onRequest = (_req, conn) => conn.socket.write(`${SWITCHING}first`);
  return { member, conn: () => member.connections[0]! };
}

function accessLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === "access");
}

describe("a 101 that taught a binding the store must acknowledge", () => {
  it("waits for the acknowledgement, then relays the member's bytes in order and the client's", async () => {
    const { member, conn } = await switchingMember();
    const proxy = await startWireProxy([member], { accessLog: true });
    const store = storeAckHeld();
    const client = await RawClient.connect(proxy.port);
    client.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    await expect.poll(() => member.requests.length).toBe(1);
    // While the 101 waits, the member goes on sending and the client sends its first frame.
    conn().socket.write("second");
    client.write("ping");
    await sleep(100);
    expect(client.text()).toBe("");
    expect(proxy.counters.upgrades).toBe(0);

    store.release();
    await client.waitFor(() => client.text().endsWith("firstsecond"), "the 101 and the member's frames");
    expect(client.text()).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\nfirstsecond$/);
    await expect.poll(() => conn().received.toString().endsWith("ping")).toBe(true);
    expect(proxy.counters.upgrades).toBe(1);
    // Relayed both ways from here.
    conn().socket.write("third");
    client.write("pong");
    await client.waitFor(() => client.text().endsWith("third"), "a frame after the switch");
    await expect.poll(() => conn().received.toString().endsWith("pong")).toBe(true);
    client.destroy();
    await expect.poll(() => accessLines(proxy.logLines).length).toBe(1);
    expect(accessLines(proxy.logLines)[0]).toMatchObject({ status: 101, path: "/ws" });
  });

  it("a client that leaves meanwhile: member connection closed, claim released, one access line, nothing written", async () => {
    const { member, conn } = await switchingMember();
    const proxy = await startWireProxy([member], { accessLog: true });
    const store = storeAckHeld();
    const client = await RawClient.connect(proxy.port);
    client.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    await expect.poll(() => member.requests.length).toBe(1);
    const member0 = proxy.holder.current.pools.get("web")!.members[0]!;
    expect(member0.active).toBe(1);
    // Gone for good (a reset; a FIN would be a half-close, which the relay carries on).
    client.socket.resetAndDestroy();
    await expect.poll(() => conn().closed).toBe(true);
    expect(member0.active).toBe(0);
    await expect.poll(() => accessLines(proxy.logLines).length).toBe(1);
    expect(accessLines(proxy.logLines)[0]).toMatchObject({ status: 0, path: "/ws" });

    // The acknowledgement comes after all: nothing more happens.
    store.release();
    await sleep(50);
    expect(accessLines(proxy.logLines)).toHaveLength(1);
    expect(proxy.counters.upgrades).toBe(0);
    expect(proxy.faults.bySite.upgrade ?? 0).toBe(0);
    expect(proxy.openCount()).toBe(0);
  });

  it("a bug in the switch after the wait ends that upgrade only, both sockets, counted", async () => {
    const { member, conn } = await switchingMember();
    const proxy = await startWireProxy([member], { accessLog: true });
    const store = storeAckHeld();
    vi.spyOn(HttpClientConnection.prototype, "upgraded").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const client = await RawClient.connect(proxy.port);
    client.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    await expect.poll(() => member.requests.length).toBe(1);
    store.release();
    await client.waitEnded();
    expect(proxy.faults.bySite.upgrade).toBe(1);
    await expect.poll(() => conn().closed).toBe(true);
    expect(proxy.holder.current.pools.get("web")!.members[0]!.active).toBe(0);
    await expect.poll(() => accessLines(proxy.logLines).length).toBe(1);

    // The next upgrade is served.
    vi.mocked(PlacedClient.prototype.answered).mockRestore();
    const next = await RawClient.connect(proxy.port);
    next.write(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`);
    expect((await next.response()).status).toBe(101);
  });
});

describe("an ordinary response held for the store", () => {
  it("a bug when its head goes on ends that exchange, member connection closed, and the next is served", async () => {
    const member = await RawMember.start("127.0.1.2");
    member.onRequest = (_req, conn) => conn.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const proxy = await startWireProxy([member]);
    const store = storeAckHeld();
    vi.spyOn(Exchange.prototype as unknown as { sendHead(): void }, "sendHead").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const client = await RawClient.connect(proxy.port);
    client.write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    await expect.poll(() => member.requests.length).toBe(1);
    store.release();
    await client.waitEnded();
    expect(proxy.faults.bySite.http_member).toBe(1);
    await expect.poll(() => member.connections[0]!.closed).toBe(true);
    expect(proxy.holder.current.pools.get("web")!.members[0]!.active).toBe(0);

    const next = await RawClient.connect(proxy.port);
    next.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await next.response()).status).toBe(200);
  });
});
