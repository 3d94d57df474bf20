import { describe, expect, it } from "vitest";
import { startTcpListener } from "../../../src/data/listener/tcp-listener.js";
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
