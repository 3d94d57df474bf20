import type * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndReadName, startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { onePoolConfig } from "../support/config-yaml.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";

/** A native document with one TCP listener on 127.0.0.1:`port` and one pool. */
function tcpConfig(port: number, pool: string, backends: { address: string; port: number }[]): string {
  return onePoolConfig({
    name: "tcp-test",
    protocol: "TCP",
    port,
    listenerName: "tcp",
    pool,
    members: backends,
  });
}

describe("TCP load balancing end to end", () => {
  const backends: TcpBackend[] = [];
  const processes: StickylbProcess[] = [];

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startTcpBackend(`b${i}`, `127.0.1.${i}`));
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all(backends.map((b) => b.close()));
  });

  async function start(pool: string, members = backends): Promise<number> {
    const port = await freeTcpPort();
    const dir = tempDir();
    const file = writeConfig(dir, "lb.yaml", tcpConfig(port, pool, members));
    processes.push(await runStickylb([file]));
    return port;
  }

  it("SOURCE_IP algorithm: 50 client IPs × 5 connections each always reach the same backend", async () => {
    const port = await start("      algorithm: SOURCE_IP");
    const seen = new Map<string, Set<string>>();
    for (let c = 0; c < 50; c++) {
      const ip = `127.0.0.${10 + c}`;
      const names = new Set<string>();
      for (let k = 0; k < 5; k++) names.add(await whoAnswers(port, ip));
      seen.set(ip, names);
    }
    for (const [ip, names] of seen) expect(names.size, `client ${ip} saw ${[...names]}`).toBe(1);
    const used = new Set([...seen.values()].map((s) => [...s][0]));
    expect(used).toEqual(new Set(["b1", "b2", "b3"]));
  });

  it("ROUND_ROBIN + SOURCE_IP persistence: sticks while active, lapses after the idle timeout, held open it stays", async () => {
    const two = backends.slice(0, 2);
    const port = await start(
      "      algorithm: ROUND_ROBIN\n      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 2s}",
      two,
    );
    // Round robin alternates b1, b2. Client A is placed first, then C and D advance the rotation.
    const a = await whoAnswers(port, "127.0.0.21");
    const c = await whoAnswers(port, "127.0.0.22");
    expect(c).not.toBe(a);
    const d = await whoAnswers(port, "127.0.0.23");
    expect(d).toBe(a); // the rotation's next pick would now be the other backend
    // Active: A reconnects within the timeout and stays, although round robin would move it.
    for (let i = 0; i < 3; i++) {
      await sleep(600);
      expect(await whoAnswers(port, "127.0.0.21")).toBe(a);
    }
    // Idle past the timeout (2 s, with margin for a busy machine and the 1 s sweep): the binding is
    // gone and round robin places A afresh on the other backend.
    await sleep(3500);
    expect(await whoAnswers(port, "127.0.0.21")).toBe(c);

    // A client holding a connection open for 4 s keeps its binding (docs/reference/behaviour.md#source_ip-session-persistence).
    const held = await connectAndReadName(port, "127.0.0.24");
    const heldOn = held.name;
    await whoAnswers(port, "127.0.0.25"); // moves the rotation so that a fresh placement would differ
    await sleep(4000);
    const again = await whoAnswers(port, "127.0.0.24");
    held.socket.destroy();
    expect(again).toBe(heldOn);
  });

  it("LEAST_CONNECTIONS: new connections go to the least loaded backend", async () => {
    const port = await start("      algorithm: LEAST_CONNECTIONS");
    const open: { socket: net.Socket; name: string }[] = [];
    for (let i = 0; i < 6; i++) open.push(await connectAndReadName(port, "127.0.0.30"));
    const counts = (list: { name: string }[]) =>
      list.reduce((m, x) => m.set(x.name, (m.get(x.name) ?? 0) + 1), new Map<string, number>());
    expect(counts(open)).toEqual(
      new Map([
        ["b1", 2],
        ["b2", 2],
        ["b3", 2],
      ]),
    );
    // Close both connections of one backend: the next two connections go there.
    const target = open[0]!.name;
    for (const x of open.filter((o) => o.name === target)) x.socket.destroy();
    await sleep(300);
    const n1 = await connectAndReadName(port, "127.0.0.31");
    const n2 = await connectAndReadName(port, "127.0.0.32");
    expect([n1.name, n2.name]).toEqual([target, target]);
    for (const x of [...open, n1, n2]) x.socket.destroy();
  });

  it("a backend that refuses connections: clients are placed on the others and none gets an error", async () => {
    const deadPort = await freeTcpPort("127.0.1.9");
    const port = await start("      algorithm: ROUND_ROBIN", [
      ...backends.slice(0, 2),
      { address: "127.0.1.9", port: deadPort } as TcpBackend,
    ]);
    const names: string[] = [];
    for (let c = 0; c < 30; c++) names.push(await whoAnswers(port, `127.0.0.${40 + c}`));
    expect(new Set(names)).toEqual(new Set(["b1", "b2"]));
  });

  it("SOURCE_IP algorithm: the clients of a refusing backend move to another one, the others stay", async () => {
    const deadPort = await freeTcpPort("127.0.1.9");
    const port = await start("      algorithm: SOURCE_IP", [
      ...backends,
      { address: "127.0.1.9", port: deadPort } as TcpBackend,
    ]);
    for (let c = 0; c < 20; c++) {
      const ip = `127.0.0.${80 + c}`;
      const first = await whoAnswers(port, ip);
      expect(await whoAnswers(port, ip)).toBe(first);
    }
  });
});
