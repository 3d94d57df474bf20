import { afterEach, describe, expect, it } from "vitest";
import { type RunningUdpListener, startUdpListener } from "../../../src/data/listener/udp-listener.js";
import { freeUdpPort } from "../../support/ports.js";
import { startUdpBackend, type UdpBackend, type UdpClient, udpClient } from "../../support/udp-backends.js";
import { poolModel, TestRuntime, udpListenerModel, until } from "./support.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backends(n: number): Promise<UdpBackend[]> {
  const list: UdpBackend[] = [];
  for (let i = 1; i <= n; i++) {
    const b = await startUdpBackend(`b${i}`);
    cleanups.push(() => b.close());
    list.push(b);
  }
  return list;
}

async function client(address = "127.0.0.1"): Promise<UdpClient> {
  const c = await udpClient(address);
  cleanups.push(() => c.close());
  return c;
}

async function setup(
  members: { address: string; port: number }[],
  opts: {
    algorithm?: "ROUND_ROBIN" | "SOURCE_IP";
    sticky?: boolean;
    maxFlows?: number;
    idleMs?: number;
  } = {},
): Promise<{ rt: TestRuntime; listener: RunningUdpListener }> {
  const listenerModel = udpListenerModel({
    maxFlows: opts.maxFlows ?? 100,
    timeouts: { idleMs: opts.idleMs ?? 1000, clientMs: 1, memberMs: 1, connectMs: 1 },
  });
  const rt = new TestRuntime({
    listeners: [listenerModel],
    pools: [poolModel(members, opts.algorithm ?? "ROUND_ROBIN", opts.sticky ?? false)],
  });
  const listener = await startUdpListener(listenerModel, rt.ctx);
  cleanups.push(() => listener.closeAll());
  return { rt, listener };
}

describe("UDP listener", () => {
  it("relays a datagram to a member and the reply back from the listener's own address and port", async () => {
    const [b1] = await backends(1);
    const { listener } = await setup([b1!]);
    const c = await client();
    const { text, from } = await c.askFrom(listener.port);
    expect(text).toBe("b1");
    expect(from.address).toBe("127.0.0.1");
    expect(from.port).toBe(listener.port);
    expect(listener.counters).toMatchObject({ datagramsIn: 1, datagramsOut: 1, flowsOpened: 1 });
    expect(listener.openCount()).toBe(1);
  });

  it("keeps a flow on its member: later datagrams of one client port reuse one upstream socket", async () => {
    const [b1, b2] = await backends(2);
    const { listener } = await setup([b1!, b2!]);
    const c = await client();
    const first = await c.ask(listener.port);
    for (let i = 0; i < 5; i++) expect(await c.ask(listener.port)).toBe(first);
    expect(listener.counters.flowsOpened).toBe(1);
    expect(b1!.sources() + b2!.sources()).toBe(1);
  });

  it("balances per flow: round robin sends successive source ports to alternate members", async () => {
    const [b1, b2] = await backends(2);
    const { listener } = await setup([b1!, b2!]);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await (await client()).ask(listener.port));
    expect(answers).toEqual(["b1", "b2", "b1", "b2", "b1", "b2"]);
    expect(listener.counters.flowsOpened).toBe(6);
  });

  it("SOURCE_IP persistence: one client IP with many source ports reaches one member, and the open flow holds the binding", async () => {
    const [b1, b2, b3] = await backends(3);
    const { rt, listener } = await setup([b1!, b2!, b3!], { sticky: true });
    const fromA = new Set<string>();
    for (let i = 0; i < 6; i++) fromA.add(await (await client("127.0.0.1")).ask(listener.port));
    expect(fromA.size).toBe(1);
    const other = await (await client("127.0.0.2")).ask(listener.port);
    expect(other).not.toBe([...fromA][0]);
    const table = rt.holder.current.pools.get("p")!.bindings!;
    expect(table.entries!()).toBeDefined();
    const entry = [...table.entries!()].find((e) => e.key === "127.0.0.1");
    expect(entry?.holds).toBe(6);
    // Flows lapse: the holds are released and the binding idles from now on.
    rt.clock.advance(1000);
    expect(listener.sweep()).toBe(7);
    expect([...table.entries!()].find((e) => e.key === "127.0.0.1")?.holds).toBe(0);
  });

  it("SOURCE_IP algorithm: each client IP keeps one member across source ports", async () => {
    const list = await backends(3);
    const { listener } = await setup(list, { algorithm: "SOURCE_IP" });
    for (const ip of ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) seen.add(await (await client(ip)).ask(listener.port));
      expect(seen.size).toBe(1);
    }
  });

  it("expires a flow after timeouts.idle without datagrams, through the sweep and not a timer per flow", async () => {
    const [b1, b2] = await backends(2);
    const { rt, listener } = await setup([b1!, b2!], { idleMs: 1000 });
    const c = await client();
    expect(await c.ask(listener.port)).toBe("b1");
    rt.clock.advance(999);
    expect(listener.sweep()).toBe(0);
    expect(await c.ask(listener.port)).toBe("b1");
    rt.clock.advance(999);
    expect(listener.sweep()).toBe(0);
    rt.clock.advance(1);
    expect(listener.sweep()).toBe(1);
    expect(listener.counters.flowsExpired).toBe(1);
    expect(listener.openCount()).toBe(0);
    // A new flow from the same port is placed afresh: round robin moves it on.
    expect(await c.ask(listener.port)).toBe("b2");
    expect(listener.counters.flowsOpened).toBe(2);
  });

  it("sweeps in deadline order: only the flows past their idle time go", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!], { idleMs: 1000 });
    const old = await client();
    await old.ask(listener.port);
    rt.clock.advance(500);
    const recent = await client();
    await recent.ask(listener.port);
    rt.clock.advance(500);
    expect(listener.sweep()).toBe(1);
    expect(listener.flows.get(`127.0.0.1 ${recent.port}`)).toBeDefined();
    expect(listener.flows.get(`127.0.0.1 ${old.port}`)).toBeUndefined();
  });

  it("bounds the flow table at maxFlows by closing the oldest idle flow, and counts it", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!], { maxFlows: 3 });
    const clients: UdpClient[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await client();
      clients.push(c);
      await c.ask(listener.port);
      rt.clock.advance(1);
    }
    expect(listener.openCount()).toBe(3);
    expect(listener.counters.flowsEvicted).toBe(2);
    expect(listener.flows.get(`127.0.0.1 ${clients[0]!.port}`)).toBeUndefined();
    expect(listener.flows.get(`127.0.0.1 ${clients[1]!.port}`)).toBeUndefined();
    // Traffic refreshes a flow: the third client is now the newest, so the fourth goes next.
    await clients[2]!.ask(listener.port);
    rt.clock.advance(1);
    await (await client()).ask(listener.port);
    expect(listener.flows.get(`127.0.0.1 ${clients[2]!.port}`)).toBeDefined();
    expect(listener.flows.get(`127.0.0.1 ${clients[3]!.port}`)).toBeUndefined();
    expect(b1!.sources()).toBe(6);
  });

  it("reports ICMP port unreachable (ECONNREFUSED) as a passive failure and closes the flow", async () => {
    const closedPort = await freeUdpPort();
    const { rt, listener } = await setup([{ address: "127.0.0.1", port: closedPort }]);
    const c = await client();
    c.socket.send("x", listener.port, "127.0.0.1");
    await until(() => listener.counters.flowsRefused === 1, "the refused flow");
    expect(rt.outcomes).toEqual([
      { member: `127.0.0.1:${closedPort}`, ok: false, reason: "ECONNREFUSED (port unreachable)" },
    ]);
    expect(listener.openCount()).toBe(0);
    expect(rt.member(`127.0.0.1:${closedPort}`).active).toBe(0);
  });

  it("reports the first reply of a flow as a connect success", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!]);
    const c = await client();
    await c.ask(listener.port);
    await c.ask(listener.port);
    expect(rt.outcomes).toEqual([{ member: `127.0.0.1:${b1!.port}`, ok: true }]);
  });

  it("drops and counts datagrams when no member is eligible", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!]);
    rt.registry.setHealthy(rt.member(`127.0.0.1:${b1!.port}`).id, false, "test");
    const c = await client();
    await expect(c.ask(listener.port, "127.0.0.1", "x", 200)).rejects.toThrow(/no UDP reply/);
    expect(listener.counters.noMember).toBe(1);
    expect(rt.holder.current.pools.get("p")!.counters.noMember).toBe(1);
    expect(listener.openCount()).toBe(0);
  });

  it("moves a flow whose member turned unhealthy to an eligible member", async () => {
    const [b1, b2] = await backends(2);
    const { rt, listener } = await setup([b1!, b2!]);
    const c = await client();
    expect(await c.ask(listener.port)).toBe("b1");
    rt.registry.setHealthy(rt.member(`127.0.0.1:${b1!.port}`).id, false, "test");
    expect(await c.ask(listener.port)).toBe("b2");
    expect(listener.counters.flowsRedispatched).toBe(1);
    expect(rt.member(`127.0.0.1:${b1!.port}`).active).toBe(0);
    expect(rt.member(`127.0.0.1:${b2!.port}`).active).toBe(1);
  });

  it("counts flows as active connections of their member, and a drain that ends closes them", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!]);
    await (await client()).ask(listener.port);
    await (await client()).ask(listener.port);
    const m = rt.member(`127.0.0.1:${b1!.port}`);
    expect(m.active).toBe(2);
    expect(m.total).toBe(2);
    for (const f of [...m.open]) f.destroy();
    expect(m.active).toBe(0);
    expect(listener.openCount()).toBe(0);
  });

  it("after stopAccepting, existing flows continue, new ones are dropped, and silent flows lapse within a second", async () => {
    const [b1] = await backends(1);
    const { rt, listener } = await setup([b1!], { idleMs: 300_000 });
    const old = await client();
    await old.ask(listener.port);
    await listener.stopAccepting();
    expect(await old.ask(listener.port)).toBe("b1");
    const late = await client();
    await expect(late.ask(listener.port, "127.0.0.1", "x", 200)).rejects.toThrow(/no UDP reply/);
    expect(listener.counters.drops).toBe(1);
    rt.clock.advance(1000);
    expect(listener.sweep()).toBe(1);
    expect(listener.openCount()).toBe(0);
  });

  it("binds udp6 for an IPv6 address", async () => {
    const b = await startUdpBackend("v6", "::1");
    cleanups.push(() => b.close());
    const listenerModel = udpListenerModel({ address: "::1" });
    const rt = new TestRuntime({
      listeners: [listenerModel],
      pools: [poolModel([{ address: "::1", port: b.port }])],
    });
    const listener = await startUdpListener(listenerModel, rt.ctx);
    cleanups.push(() => listener.closeAll());
    const c = await client("::1");
    expect(await c.ask(listener.port, "::1")).toBe("v6");
  });

  it("refuses to start on an address in use", async () => {
    const [b1] = await backends(1);
    const { rt } = await setup([b1!]);
    const taken = udpListenerModel({ port: b1!.port });
    await expect(startUdpListener(taken, rt.ctx)).rejects.toThrow(/EADDRINUSE/);
  });
});
