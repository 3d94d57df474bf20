import * as dgram from "node:dgram";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onePoolConfig } from "../support/config-yaml.js";
import { freeUdpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";
import { startUdpBackend, type UdpBackend, udpClient } from "../support/udp-backends.js";

/** A native document with one UDP listener on 127.0.0.1:`port` and one pool of `backends`. */
function udpConfig(port: number, listenerExtra: string, pool: string, backends: UdpBackend[]): string {
  return onePoolConfig({
    name: "udp-test",
    protocol: "UDP",
    port,
    listenerName: "udp",
    listenerExtra,
    pool,
    members: backends,
  });
}

/** Resident memory of a process in KiB (VmRSS). */
function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? Number.NaN);
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** 30 client IPs (127.0.0.10–39), `ports` source ports each: which backend answered each flow. */
async function clientsByIp(port: number, ports: number): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>();
  for (let c = 0; c < 30; c++) {
    const ip = `127.0.0.${10 + c}`;
    const names: string[] = [];
    for (let k = 0; k < ports; k++) {
      const client = await udpClient(ip);
      names.push(await client.ask(port));
      // A second datagram on the same flow reaches the same member.
      expect(await client.ask(port)).toBe(names[k]);
      await client.close();
    }
    seen.set(ip, names);
  }
  return seen;
}

describe("UDP load balancing end to end", () => {
  const backends: UdpBackend[] = [];
  const processes: StickylbProcess[] = [];

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startUdpBackend(`u${i}`, `127.0.1.${i}`));
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all(backends.map((b) => b.close()));
  });

  async function start(
    pool: string,
    listenerExtra = "",
    members = backends,
  ): Promise<{ port: number; proc: StickylbProcess }> {
    const port = await freeUdpPort();
    const file = writeConfig(tempDir(), "lb.yaml", udpConfig(port, listenerExtra, pool, members));
    const proc = await runStickylb([file]);
    processes.push(proc);
    return { port, proc };
  }

  it("SOURCE_IP algorithm: 30 client IPs × 4 source ports each, every IP always on one backend", async () => {
    const { port } = await start("      algorithm: SOURCE_IP");
    const seen = await clientsByIp(port, 4);
    for (const [ip, names] of seen) expect(new Set(names).size, `client ${ip} saw ${names}`).toBe(1);
    expect(new Set([...seen.values()].map((n) => n[0]))).toEqual(new Set(["u1", "u2", "u3"]));
  });

  it("ROUND_ROBIN + SOURCE_IP persistence: 30 client IPs × 4 source ports each, every IP always on one backend", async () => {
    const { port } = await start(
      "      algorithm: ROUND_ROBIN\n      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 10m}",
    );
    const seen = await clientsByIp(port, 4);
    for (const [ip, names] of seen) expect(new Set(names).size, `client ${ip} saw ${names}`).toBe(1);
    // New IPs are placed by round robin: 30 IPs over 3 members, 10 each.
    const perBackend = new Map<string, number>();
    for (const names of seen.values()) perBackend.set(names[0]!, (perBackend.get(names[0]!) ?? 0) + 1);
    expect(perBackend).toEqual(
      new Map([
        ["u1", 10],
        ["u2", 10],
        ["u3", 10],
      ]),
    );
  });

  it("ROUND_ROBIN without persistence spreads flows: one IP's source ports go to every backend in turn", async () => {
    const { port } = await start("      algorithm: ROUND_ROBIN");
    const names: string[] = [];
    for (let k = 0; k < 30; k++) {
      const client = await udpClient("127.0.0.10");
      names.push(await client.ask(port));
      await client.close();
    }
    expect(names.slice(0, 6)).toEqual(["u1", "u2", "u3", "u1", "u2", "u3"]);
    for (const b of ["u1", "u2", "u3"]) expect(names.filter((n) => n === b).length).toBe(10);
  });

  it("a flow idle past `idle: 1s` is gone: the same source port then opens a new flow, placed afresh", async () => {
    const { port } = await start(
      "      algorithm: ROUND_ROBIN",
      ", timeouts: {idle: 1s}",
      backends.slice(0, 2),
    );
    const client = await udpClient("127.0.0.10");
    try {
      // Active for 2 s (a datagram every 400 ms, each under the idle time): one flow, one member.
      for (let i = 0; i < 5; i++) {
        expect(await client.ask(port)).toBe("u1");
        await sleep(400);
      }
      // Silent past the idle timeout (plus a sweep period): the flow lapses; round robin moves on.
      await sleep(1600);
      expect(await client.ask(port)).toBe("u2");
    } finally {
      await client.close();
    }
  });

  it("a flood of 200,000 distinct flows keeps the flow table bounded at maxFlows, memory bounded and the process serving", async () => {
    const { port, proc } = await start("      algorithm: ROUND_ROBIN", ", maxFlows: 1000");
    const pid = proc.child.pid!;
    // Warm up with a first thousand flows so the baseline includes a full table's worth of sockets.
    // Warm up with a first thousand flows so the baseline includes a full table's worth of sockets.
    const warm = await floodFlows(port, 0, 1000);
    const relayedBefore = backends.reduce((n, b) => n + b.received(), 0);
    const rssBefore = rssKiB(pid);
    const started = Date.now();
    const firstHalf = await floodFlows(port, 1000, 100_000);
    const rssMiddle = rssKiB(pid);
    const secondHalf = await floodFlows(port, 100_000, 200_000);
    const seconds = (Date.now() - started) / 1000;
    await sleep(500);
    const rssAfter = rssKiB(pid);
    const fds = openFds(pid);
    const relayed = backends.reduce((n, b) => n + b.received(), 0) - relayedBefore;
    const sent = firstHalf.sent + secondHalf.sent;
    console.log(
      `UDP flood: ${warm.sent} + ${sent} distinct flows (${firstHalf.skipped + secondHalf.skipped} source ports ` +
        `unavailable) in ${seconds.toFixed(1)} s, ${relayed} relayed to members, ` +
        `${firstHalf.replies + secondHalf.replies} replies; RSS ${Math.round(rssBefore / 1024)} -> ` +
        `${Math.round(rssMiddle / 1024)} -> ${Math.round(rssAfter / 1024)} MiB; open fds ${fds}`,
    );
    expect(sent).toBeGreaterThan(190_000);
    // Nearly every flow was opened and relayed (UDP may lose a few under load).
    expect(relayed).toBeGreaterThan(0.9 * sent);
    // At most maxFlows upstream sockets stay open (plus the process's own descriptors).
    expect(fds).toBeLessThan(1000 + 100);
    // Memory settles: the second 100,000 flows add (almost) nothing to the first.
    expect(rssAfter).toBeLessThan(rssBefore + 100 * 1024);
    expect(rssAfter).toBeLessThan(rssMiddle + 32 * 1024);
    // Still serving: a new client gets an answer, twice on the same flow.
    const client = await udpClient("127.0.0.10");
    const first = await client.ask(port);
    expect(await client.ask(port)).toBe(first);
    await client.close();
    expect(proc.child.exitCode).toBeNull();
  }, 120_000);
});

/**
 * Opens flows `from` to `to`, one datagram each from a distinct client address and port: ports
 * 10000–31999 (below the ephemeral range, so they never clash with the load balancer's own
 * upstream sockets) on 127.0.100.1, 127.0.101.1, … Sockets go in batches, and a batch waits for its
 * replies (up to a short grace) before closing, so that the flood runs at the rate the load balancer
 * opens flows instead of overflowing the kernel's receive buffer.
 */
async function floodFlows(
  port: number,
  from: number,
  to: number,
): Promise<{ sent: number; skipped: number; replies: number }> {
  const PORTS = 22_000;
  const BATCH = 200;
  let sent = 0;
  let skipped = 0;
  let replies = 0;
  const payload = Buffer.from("flood");
  for (let i = from; i < to; i += BATCH) {
    const batch: dgram.Socket[] = [];
    let answered = 0;
    let wake: () => void = () => {};
    await Promise.all(
      Array.from({ length: Math.min(BATCH, to - i) }, (_, j) => {
        const n = i + j;
        const address = `127.0.${100 + Math.floor(n / PORTS)}.1`;
        const s = dgram.createSocket("udp4");
        s.on("message", () => {
          replies++;
          if (++answered === batch.length) wake();
        });
        return new Promise<void>((resolve) => {
          s.once("error", () => {
            skipped++;
            s.close();
            resolve();
          });
          s.bind({ address, port: 10_000 + (n % PORTS) }, () => {
            batch.push(s);
            s.send(payload, port, "127.0.0.1", () => resolve());
            sent++;
          });
        });
      }),
    );
    if (answered < batch.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const s of batch) s.close();
  }
  return { sent, skipped, replies };
}
