import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { DataPathContext } from "../../../src/data/context.js";
import { ConnectionBudget, type ProcessBudgets } from "../../../src/data/limits/connection-budget.js";
import { type RunningUdpListener, startUdpListener } from "../../../src/data/listener/udp-listener.js";
import { startUdpBackend, type UdpBackend, type UdpClient, udpClient } from "../../support/udp-backends.js";
import { poolModel, TestRuntime, udpListenerModel, until } from "./support.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name = "b1"): Promise<UdpBackend> {
  const b = await startUdpBackend(name);
  cleanups.push(() => b.close());
  return b;
}

async function client(): Promise<UdpClient> {
  const c = await udpClient("127.0.0.1");
  cleanups.push(() => c.close());
  return c;
}

function budgets(udpFlows: number, log?: pino.Logger): ProcessBudgets {
  return {
    udpFlows: new ConnectionBudget("udp_flows", udpFlows, log),
    connections: new ConnectionBudget("connections", 100, log),
    nofile: 1024,
    nofileSource: "test",
  };
}

/** Two UDP listeners of one process sharing one flow budget, over one member; a manual clock. */
async function twoListeners(
  member: UdpBackend,
  shared: ProcessBudgets,
  ctxOverrides: Partial<DataPathContext> = {},
): Promise<{ rt: TestRuntime; a: RunningUdpListener; b: RunningUdpListener }> {
  const la = udpListenerModel({ name: "a", maxFlows: 100 });
  const lb = udpListenerModel({ name: "b", maxFlows: 100, address: "127.0.0.2" });
  const rt = new TestRuntime({ listeners: [la, lb], pools: [poolModel([member])] });
  const ctx: DataPathContext = { ...rt.ctx, budgets: shared, ...ctxOverrides };
  const a = await startUdpListener(la, ctx);
  const b = await startUdpListener(lb, ctx);
  cleanups.push(() => a.closeAll());
  cleanups.push(() => b.closeAll());
  return { rt, a, b };
}

describe("UDP flows under the process's flow budget", () => {
  it("at the budget a new flow evicts the listener's oldest idle flow; a listener with none to evict refuses it; both counted", async () => {
    const member = await backend();
    const shared = budgets(3);
    const { rt, a, b } = await twoListeners(member, shared);
    const clients: UdpClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await client();
      clients.push(c);
      expect(await c.ask(a.port)).toBe("b1");
      rt.clock.advance(10);
    }
    // Touch the first flow: it is no longer the oldest idle one.
    expect(await clients[0]!.ask(a.port)).toBe("b1");
    expect(shared.udpFlows.inUse).toBe(3);

    // Listener b has no flow to give back: its client's first datagram is dropped and counted.
    const other = await client();
    await expect(other.ask(b.port, "127.0.0.2", "x", 300)).rejects.toThrow(/no UDP reply/);
    expect(b.counters.flowsRefusedAtLimit).toBe(1);
    expect(shared.udpFlows.refused).toBe(1);
    expect(a.openCount()).toBe(3);

    // Listener a makes room by closing its least recently active flow (the second client's).
    const fourth = await client();
    expect(await fourth.ask(a.port)).toBe("b1");
    expect(a.counters).toMatchObject({ flowsEvicted: 1, flowsEvictedAtLimit: 1 });
    expect(shared.udpFlows.evicted).toBe(1);
    expect(a.flows.get(`127.0.0.1 ${clients[1]!.port}`)).toBeUndefined();
    expect(a.flows.get(`127.0.0.1 ${clients[0]!.port}`)).toBeDefined();
    expect(shared.udpFlows.inUse).toBe(3);

    // Flows that expire give their budget back; b can then open one.
    rt.clock.advance(1000);
    expect(a.sweep()).toBe(3);
    expect(shared.udpFlows.inUse).toBe(0);
    expect(await other.ask(b.port, "127.0.0.2")).toBe("b1");
    expect(shared.udpFlows.inUse).toBe(1);
  });

  it("logs the reached limit once at warn, however many flows it turns away", async () => {
    const member = await backend();
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: "warn" },
      new Writable({
        write(chunk, _e, done) {
          lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
          done();
        },
      }),
    );
    const { a } = await twoListeners(member, budgets(2, log));
    for (let i = 0; i < 12; i++) expect(await (await client()).ask(a.port)).toBe("b1");
    expect(a.counters.flowsEvictedAtLimit).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.table === "udp_flows" && String(l.msg).includes("reached"))).toHaveLength(1);
  });

  it("a flow counts as its member's active connection through claim, given back when it closes", async () => {
    const member = await backend();
    const { rt, a } = await twoListeners(member, budgets(10));
    const c = await client();
    await c.ask(a.port);
    const m = rt.member(`127.0.0.1:${member.port}`);
    expect(m.active).toBe(1);
    expect(m.total).toBe(1);
    expect(m.open.size).toBe(1);
    rt.clock.advance(1000);
    a.sweep();
    expect(m.active).toBe(0);
    expect(m.open.size).toBe(0);
  });

  it("a throw in a flow's socket callback ends that flow only, counted; other clients are served", async () => {
    const member = await backend();
    let bug = true;
    const { rt, a } = await twoListeners(member, budgets(10), {
      outcomes: {
        connectFailed: () => {},
        // The first reply of a flow reports a connect success: make that report throw once.
        connectSucceeded: () => {
          if (bug) {
            bug = false;
            throw new Error("injected bug");
          }
        },
      },
    });
    const victim = await client();
    await expect(victim.ask(a.port, "127.0.0.1", "x", 300)).rejects.toThrow(/no UDP reply/);
    await until(() => a.counters.internalErrors === 1, "the fault to be counted");
    expect(a.openCount()).toBe(0);
    expect(rt.member(`127.0.0.1:${member.port}`).active).toBe(0);
    expect(await (await client()).ask(a.port)).toBe("b1");
    // The victim's next datagram opens a fresh flow.
    expect(await victim.ask(a.port)).toBe("b1");
  });
  it('a bug in a flow is reported through the shared fault guard: stickylb_internal_errors_total{where="udp"}', async () => {
    const member = await backend();
    let bug = true;
    const { rt, a } = await twoListeners(member, budgets(10), {
      outcomes: {
        // The first reply reports a connect success: that report throws once, a bug on the reply path.
        connectFailed: () => {},
        connectSucceeded: () => {
          if (bug) {
            bug = false;
            throw new Error("injected bug");
          }
        },
      },
    });
    const victim = await client();
    await expect(victim.ask(a.port, "127.0.0.1", "x", 300)).rejects.toThrow(/no UDP reply/);
    await until(() => rt.ctx.faults.bySite.udp === 1, "the fault to be counted as where=udp");
    expect(rt.ctx.faults.bySite.tcp + rt.ctx.faults.bySite.http_client).toBe(0);
    expect(await (await client()).ask(a.port)).toBe("b1");
  });
});
