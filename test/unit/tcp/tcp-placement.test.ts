import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { startTcpListener } from "../../../src/data/listener/tcp-listener.js";
import { sharedReadBuffers } from "../../../src/data/proxy/byte-relay.js";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../../support/backends.js";
import { cleanupList } from "../../support/cleanups.js";
import { poolModel, TestRuntime, udpListenerModel } from "../udp/support.js";

const cleanups = cleanupList();

async function backend(name: string, address: string): Promise<TcpBackend> {
  const b = await startTcpBackend(name, address);
  cleanups.push(() => b.close());
  return b;
}

describe("TCP placement", () => {
  it("moves a bound client off a member that refuses the connect, rebinds it, counts redispatch", async () => {
    const a = await backend("a", "127.0.1.1");
    const b = await backend("b", "127.0.1.2");
    const model = {
      listeners: [udpListenerModel({ name: "tcp", protocol: "TCP" })],
      pools: [poolModel([a, b], "ROUND_ROBIN", true)],
    };
    const runtime = new TestRuntime(model);
    const listener = await startTcpListener(model.listeners[0]!, runtime.ctx);
    cleanups.push(() => {
      void listener.stopAccepting();
      listener.closeAll();
    });
    const first = await whoAnswers(listener.port, "127.0.0.1");
    // The bound member stays configured and healthy (no monitor) but refuses connections.
    await (first === "a" ? a : b).close();
    const moved = await whoAnswers(listener.port, "127.0.0.1");
    expect(moved).not.toBe(first);
    expect(await whoAnswers(listener.port, "127.0.0.1")).toBe(moved);
    const decisions = runtime.holder.current.pools.get("p")!.counters.decisions;
    expect(decisions).toMatchObject({ miss: 1, redispatch: 1, hit: 1 });
  });
});

describe("fault containment on the TCP path", () => {
  it("ends the one connection a bug hit, counts it, and serves the next client", async () => {
    const a = await backend("a", "127.0.1.1");
    const model = {
      listeners: [udpListenerModel({ name: "tcp", protocol: "TCP" })],
      pools: [poolModel([a])],
    };
    const runtime = new TestRuntime(model);
    let bugs = 1;
    const ctx = {
      ...runtime.ctx,
      outcomes: {
        connectFailed: () => {},
        connectSucceeded: () => {
          if (bugs-- > 0) throw new Error("injected bug");
        },
      },
    };
    const listener = await startTcpListener(model.listeners[0]!, ctx);
    cleanups.push(() => {
      void listener.stopAccepting();
      listener.closeAll();
    });
    await expect(whoAnswers(listener.port, "127.0.0.1")).rejects.toThrow();
    expect(ctx.faults.bySite.tcp).toBe(1);
    expect(await whoAnswers(listener.port, "127.0.0.1")).toBe("a");
  });
});

describe("the TCP relay's read buffers", () => {
  it("relays a connection on two reused read buffers (one per direction), given back at close", async () => {
    const a = await backend("a", "127.0.1.1");
    const model = {
      listeners: [udpListenerModel({ name: "tcp", protocol: "TCP" })],
      pools: [poolModel([a])],
    };
    const runtime = new TestRuntime(model);
    const listener = await startTcpListener(model.listeners[0]!, runtime.ctx);
    cleanups.push(() => {
      void listener.stopAccepting();
      listener.closeAll();
    });
    // Connections of the tests before (in this file's process) have given theirs back.
    await expect.poll(() => sharedReadBuffers.inUse()).toBe(0);
    const before = 0;
    const socket = net.connect({ host: "127.0.0.1", port: listener.port });
    cleanups.push(() => socket.destroy());
    let echoed = "";
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      echoed += text;
    });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write("ping\n");
    await expect.poll(() => echoed).toBe("a\nping\n");
    // A member socket left flowing after its hand-over made the relay fall back to `pipe`
    // (and cost a third of the bulk throughput): both directions must be on pooled buffers.
    expect(sharedReadBuffers.inUse()).toBe(before + 2);
    socket.end();
    await expect.poll(() => sharedReadBuffers.inUse()).toBe(before);
  });
});
