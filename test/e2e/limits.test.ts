/**
 * Bounds that fit the process: stickylb runs under a small open-file limit (prlimit), a UDP flood
 * from one host opens more flows than the descriptors allow, and a TCP client opens more
 * connections than its bound. The admin API and an HTTP listener keep answering, the flows past
 * the bound evict the oldest idle ones, the connections past it are closed at once, and both are
 * counted and logged once.
 */
import * as dgram from "node:dgram";
import { readdirSync } from "node:fs";
import type * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndReadName, startTcpBackend, type TcpBackend } from "../support/backends.js";
import { type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort, freeUdpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { startUdpBackend, type UdpBackend } from "../support/udp-backends.js";

/** 256 descriptors: 89 reserved, 83 UDP flows, 41 client connections (docs/udp.md). */
const NOFILE = 256;
const UDP_BOUND = 83;
const CONNECTION_BOUND = 41;

/** One datagram from a fresh source port, then the socket closes: a flow that never speaks again. */
function oneShot(port: number, source: string): Promise<void> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.on("error", () => {});
    s.bind({ address: source, port: 0 }, () => {
      s.send("x", port, "127.0.0.1", () => s.close(() => resolve()));
    });
  });
}

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("bounds derived from the open-file limit", () => {
  let udp: UdpBackend;
  let web: HttpBackend;
  let tcp: TcpBackend;
  let lb: StickylbProcess;
  let udpPort = 0;
  let webPort = 0;
  let tcpPort = 0;
  let adminPort = 0;

  const admin = async (path: string) => fetch(`http://127.0.0.1:${adminPort}${path}`);
  const metrics = async () => (await admin("/metrics")).text();

  beforeAll(async () => {
    udp = await startUdpBackend("u1", "127.0.1.1");
    web = await startHttpBackend("w1", "127.0.1.1");
    tcp = await startTcpBackend("t1", "127.0.1.1");
    udpPort = await freeUdpPort();
    webPort = await freeTcpPort();
    tcpPort = await freeTcpPort();
    const dir = tempDir();
    const file = writeConfig(
      dir,
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: limits}
spec:
  listeners:
    - {name: flood, protocol: UDP, address: 127.0.0.1, port: ${udpPort}, defaultPool: u, timeouts: {idle: 300s}}
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: t}
  pools:
    - name: u
      members:
${membersYaml([udp])}
    - name: w
      members:
${membersYaml([web])}
    - name: t
      members:
${membersYaml([tcp])}
`,
    );
    lb = await runStickylb([file], [], {}, ["prlimit", `--nofile=${NOFILE}:${NOFILE}`, "--"]);
    adminPort = await lb.adminPort();
  }, 30_000);

  afterAll(async () => {
    await lb?.stop();
    await udp?.close();
    await web?.close();
    await tcp?.close();
  });

  it("derives the bounds from the limit it runs under, and says so", async () => {
    const line = await lb.waitForLog((e) => e.msg === "descriptor bounds derived from the open-file limit");
    expect(line).toMatchObject({ nofile: NOFILE, udpFlows: UDP_BOUND, connections: CONNECTION_BOUND });
    const text = await metrics();
    expect(metric(text, 'stickylb_limit{table="udp_flows"}')).toBe(UDP_BOUND);
    expect(metric(text, 'stickylb_limit{table="connections"}')).toBe(CONNECTION_BOUND);
  });

  it("a UDP flood of one-datagram flows evicts the oldest flows at the bound; HTTP and the admin API keep answering", async () => {
    const rounds = 17;
    const flows = rounds * 25; // five times the bound
    for (let i = 0; i < rounds; i++) {
      await Promise.all(Array.from({ length: 25 }, () => oneShot(udpPort, "127.0.0.2")));
      // Served throughout, not only after the flood.
      if (i % 4 === 0) expect((await httpGet(webPort)).status).toBe(200);
    }
    let text = "";
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      text = await metrics();
      if (metric(text, 'stickylb_udp_datagrams_total{listener="flood",direction="in"}') >= flows) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(metric(text, 'stickylb_udp_datagrams_total{listener="flood",direction="in"}')).toBe(flows);
    expect(metric(text, 'stickylb_udp_flows{listener="flood"}')).toBeLessThanOrEqual(UDP_BOUND);
    // Every flow opened past the bound evicted one (a source port the kernel hands out twice is one flow).
    const opened = metric(text, 'stickylb_connections_total{listener="flood"}');
    expect(opened).toBeGreaterThan(4 * UDP_BOUND);
    expect(metric(text, 'stickylb_limit_reached_total{table="udp_flows",action="evicted"}')).toBe(
      opened - UDP_BOUND,
    );
    expect(
      metric(text, 'stickylb_listener_events_total{listener="flood",event="evicted_at_limit"}'),
    ).toBeGreaterThan(0);
    expect(readdirSync(`/proc/${lb.child.pid}/fd`).length).toBeLessThan(NOFILE);
    expect((await httpGet(webPort)).status).toBe(200);
    expect((await admin("/healthz")).status).toBe(200);
    // Logged once at warn, with its code, however many flows went.
    const warns = lb
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"table":"udp_flows"') && l.includes("limit reached"));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain("SLB_ERR_DATA_LIMIT");
  }, 60_000);

  it("TCP connections past the bound are closed at once and counted; the ones open are still served", async () => {
    const held: net.Socket[] = [];
    let closedAtOnce = 0;
    try {
      for (let i = 0; i < CONNECTION_BOUND + 15; i++) {
        try {
          const { socket, name } = await connectAndReadName(tcpPort, "127.0.0.3", "127.0.0.1", 3000);
          expect(name).toBe("t1");
          held.push(socket);
        } catch {
          closedAtOnce++;
        }
      }
      expect(held).toHaveLength(CONNECTION_BOUND);
      expect(closedAtOnce).toBe(15);
      // The first connection still relays both ways.
      const first = held[0]!;
      const echoed = new Promise<string>((resolve) => first.once("data", (d) => resolve(String(d))));
      first.write("still here\n");
      expect(await echoed).toBe("still here\n");
      const text = await metrics();
      expect(metric(text, 'stickylb_limit_reached_total{table="connections",action="refused"}')).toBe(15);
      // The budget is shared by every TCP-family listener: an HTTP client is refused too, counted.
      await expect(httpGet(webPort)).rejects.toThrow();
      expect(
        metric(await metrics(), 'stickylb_limit_reached_total{table="connections",action="refused"}'),
      ).toBe(16);
      expect((await admin("/healthz")).status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
    // Once they close, new connections are served again (HTTP included).
    const deadline = Date.now() + 5000;
    let again = "";
    while (Date.now() < deadline && again !== "t1") {
      again = await connectAndReadName(tcpPort, "127.0.0.3").then(
        ({ socket, name }) => {
          socket.destroy();
          return name;
        },
        () => "",
      );
    }
    expect(again).toBe("t1");
    expect((await httpGet(webPort)).status).toBe(200);
  }, 60_000);
});
