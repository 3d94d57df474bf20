/**
 * TCP connections, HTTP requests and upgrades share one attempt-and-retry routine
 * (`proxy/member-attempt.ts`): against the same refusing first member they count the failure and the
 * retry under the same names and report the same passive-health outcomes.
 */

import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startTcpListener } from "../../../src/data/listener/tcp-listener.js";
import { startTcpBackend, whoAnswers } from "../../support/backends.js";
import { freeTcpPort } from "../../support/ports.js";
import { cleanupWire, RawClient, RawMember, startWireProxy } from "../http/wire-support.js";
import { poolModel, TestRuntime, udpListenerModel } from "../udp/support.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cleanupWire();
});

interface Attempted {
  readonly connectFailures: number;
  readonly retries: number;
  /** Passive-health outcomes, `failed ADDRESS:PORT` / `ok ADDRESS:PORT`. */
  readonly outcomes: readonly string[];
}

async function overTcp(dead: { address: string; port: number }): Promise<Attempted> {
  const alive = await startTcpBackend("alive", "127.0.1.3");
  cleanups.push(() => alive.close());
  const model = {
    listeners: [udpListenerModel({ name: "tcp", protocol: "TCP" })],
    pools: [poolModel([dead, alive])],
  };
  const runtime = new TestRuntime(model);
  const listener = await startTcpListener(model.listeners[0]!, runtime.ctx);
  cleanups.push(() => {
    void listener.stopAccepting();
    listener.closeAll();
  });
  expect(await whoAnswers(listener.port, "127.0.0.1")).toBe("alive");
  return {
    connectFailures: listener.counters.connectFailures,
    retries: listener.counters.retries,
    outcomes: runtime.outcomes.map((o) => `${o.ok ? "ok" : "failed"} ${o.member}`),
  };
}

async function overHttp(dead: { address: string; port: number }, head: string): Promise<Attempted> {
  const alive = await RawMember.start("127.0.1.3");
  alive.onRequest = (req, conn) =>
    conn.socket.write(
      req.header("upgrade") === undefined
        ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        : "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
  const proxy = await startWireProxy([dead, alive]);
  const client = await RawClient.connect(proxy.port);
  client.write(head);
  expect((await client.response()).status).toBeLessThan(300);
  return {
    connectFailures: proxy.counters.connectFailures,
    retries: proxy.counters.retries,
    outcomes: proxy.outcomes,
  };
}

describe("one attempt routine for TCP, HTTP and upgrades", () => {
  it("counts a refused first member and the retry the same way on every path", async () => {
    const address = "127.0.1.2";
    const dead = { address, port: await freeTcpPort(address) };
    const expected: Attempted = {
      connectFailures: 1,
      retries: 1,
      outcomes: [`failed ${address}:${dead.port}`, expect.stringMatching(/^ok 127\.0\.1\.3:\d+$/)],
    } as Attempted;
    expect(await overTcp(dead)).toEqual(expected);
    expect(await overHttp(dead, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")).toEqual(expected);
    expect(
      await overHttp(
        dead,
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      ),
    ).toEqual(expected);
  });
});

/** A TCP client through the listener: resolves with what it read once the proxy closed it. */
function closedByProxy(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let read = "";
    socket.on("data", (chunk: Buffer) => {
      read += chunk.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(read));
    setTimeout(() => reject(new Error("the proxy did not close the connection")), 3_000).unref();
  });
}

describe("giving up after the one retry", () => {
  it("TCP closes, HTTP and upgrades answer 502; each path counts two failures and one retry", async () => {
    const dead = [];
    for (const address of ["127.0.1.2", "127.0.1.4"])
      dead.push({ address, port: await freeTcpPort(address) });
    const failed = dead.map((d) => `failed ${d.address}:${d.port}`);

    const model = {
      listeners: [udpListenerModel({ name: "tcp", protocol: "TCP" })],
      pools: [poolModel(dead)],
    };
    const runtime = new TestRuntime(model);
    const listener = await startTcpListener(model.listeners[0]!, runtime.ctx);
    cleanups.push(() => {
      void listener.stopAccepting();
      listener.closeAll();
    });
    expect(await closedByProxy(listener.port)).toBe("");
    expect([listener.counters.connectFailures, listener.counters.retries]).toEqual([2, 1]);
    expect(runtime.outcomes.map((o) => `${o.ok ? "ok" : "failed"} ${o.member}`)).toEqual(failed);

    for (const head of [
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ]) {
      const proxy = await startWireProxy(dead);
      const client = await RawClient.connect(proxy.port);
      client.write(head);
      expect((await client.response()).status).toBe(502);
      expect([proxy.counters.connectFailures, proxy.counters.retries, proxy.counters.badGateway]).toEqual([
        2, 1, 1,
      ]);
      expect(proxy.outcomes).toEqual(failed);
    }
  });
});
