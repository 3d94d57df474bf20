import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MemberPool } from "../../../src/data/upstream/member-connections.js";
import type { UpstreamConnection, UpstreamUser } from "../../../src/data/upstream/upstream-connection.js";

/** A member that only counts the connections it accepts and the ones its peers closed. */
async function countingMember(): Promise<{
  port: number;
  accepted: () => number;
  closed: () => number;
  close(): void;
}> {
  let accepted = 0;
  let closed = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      closed++;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.1.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    closed: () => closed,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A user that records what the pool tells it. */
function user(): UpstreamUser & { connected: Promise<UpstreamConnection>; errors: string[] } {
  let resolve!: (c: UpstreamConnection) => void;
  const connected = new Promise<UpstreamConnection>((r) => {
    resolve = r;
  });
  const errors: string[] = [];
  return {
    connected,
    errors,
    onUpstreamConnect: (c) => resolve(c),
    onUpstreamData: () => {},
    onUpstreamEnd: () => {},
    onUpstreamError: (code) => errors.push(code),
    onUpstreamTimeout: () => {},
    onUpstreamDrain: () => {},
    onUpstreamFault: (err) => errors.push(`fault: ${(err as Error).message}`),
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("MemberPool", () => {
  it("lends a released connection again, opens a new one when asked for a fresh one", async () => {
    const member = await countingMember();
    const pool = new MemberPool("127.0.1.1", member.port, 60_000);
    cleanups.push(() => pool.close(), member.close);
    const u1 = user();
    pool.acquire(u1, 1_000, 10_000);
    const c1 = await u1.connected;
    c1.release();
    expect(pool.idleCount).toBeGreaterThanOrEqual(1);
    const u2 = user();
    pool.acquire(u2, 1_000, 10_000);
    expect(await u2.connected).toBe(c1);
    expect(c1.served).toBe(1);
    c1.release();
    const u3 = user();
    pool.acquire(u3, 1_000, 10_000, true);
    expect(await u3.connected).not.toBe(c1);
    await expect.poll(() => member.accepted()).toBe(2);
  });

  it("closes idle connections once idleMs passes, none earlier than the sweep allows", async () => {
    const member = await countingMember();
    const pool = new MemberPool("127.0.1.1", member.port, 400);
    cleanups.push(() => pool.close(), member.close);
    const u = user();
    pool.acquire(u, 1_000, 10_000);
    (await u.connected).release();
    expect(pool.idleCount).toBe(1);
    await expect.poll(() => pool.idleCount, { timeout: 3_000 }).toBe(0);
    await expect.poll(() => member.closed(), { timeout: 3_000 }).toBe(1);
  });

  it("reports a refused connect as an error of the user", async () => {
    const member = await countingMember();
    const port = member.port;
    member.close();
    const pool = new MemberPool("127.0.1.1", port, 400);
    cleanups.push(() => pool.close());
    const u = user();
    pool.acquire(u, 1_000, 10_000);
    await expect.poll(() => u.errors).toEqual(["ECONNREFUSED"]);
  });

  it("turns a throw of its user into a fault of that one request, not of the process", async () => {
    const member = await countingMember();
    const pool = new MemberPool("127.0.1.1", member.port, 60_000);
    cleanups.push(() => pool.close(), member.close);
    const u = user();
    u.onUpstreamConnect = () => {
      throw new Error("bug");
    };
    pool.acquire(u, 1_000, 10_000);
    await expect.poll(() => u.errors).toEqual(["fault: bug"]);
    await expect.poll(() => member.closed()).toBe(1);
  });
});
