/**
 * `--workers 2` end to end: the real process group (primary + 2 workers). Clients are bound to
 * distinct 127.0.0.x addresses, so the primary routes them to both workers by client IP.
 */

import { writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerSlotOf } from "../../src/cluster/routing.js";
import { startTcpBackend, type TcpBackend } from "../support/backends.js";
import { cookiePair, type HttpBackend, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly setCookies: string[];
}

/** One request on a fresh connection from `localAddress`. */
function get(
  port: number,
  localAddress: string,
  path = "/",
  headers: http.OutgoingHttpHeaders = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, localAddress, headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: body.trim(),
            setCookies: res.headers["set-cookie"] ?? [],
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A TCP exchange behind a PROXY v1 header sent in the same write as the payload, then half-close. */
function tcpViaProxy(port: number, carried: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.end(`PROXY TCP4 ${carried} 127.0.0.1 40000 ${port}\r\n${payload}`);
    });
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      data += c;
    });
    socket.on("close", () => resolve(data));
    socket.on("error", reject);
  });
}

const clients = Array.from({ length: 24 }, (_, i) => `127.0.0.${i + 1}`);
/** Two client IPs that the primary sends to different workers. */
function ipsOnBothWorkers(): [string, string] {
  const a = clients[0]!;
  const b = clients.find((ip) => workerSlotOf(ip, 2) !== workerSlotOf(a, 2))!;
  return [a, b];
}

describe("--workers 2", () => {
  const http3: HttpBackend[] = [];
  const tcp3: TcpBackend[] = [];
  let proc: StickylbProcess | undefined;
  let admin = 0;
  const port = { ip: 0, app: 0, cookie: 0, count: 0, tcp: 0, added: 0 };
  let dir = "";
  let file = "";

  const config = (withAdded: boolean): string => {
    const members = (list: readonly { address: string; port: number }[]) =>
      list.map((b) => `        - {address: ${b.address}, port: ${b.port}}`).join("\n");
    return `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: workers}
spec:
  listeners:
    - {name: ip, protocol: HTTP, address: 127.0.0.1, port: ${port.ip}, defaultPool: ip}
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${port.app}, defaultPool: app}
    - {name: cookie, protocol: HTTP, address: 127.0.0.1, port: ${port.cookie}, defaultPool: cookie}
    - {name: count, protocol: HTTP, address: 127.0.0.1, port: ${port.count}, defaultPool: count}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${port.tcp}, defaultPool: tcp, proxyProtocol: true}
${withAdded ? `    - {name: added, protocol: HTTP, address: 127.0.0.1, port: ${port.added}, defaultPool: count}\n` : ""}  pools:
    - name: ip
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${members(http3)}
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 5m}
      members:
${members(http3)}
    - name: cookie
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 5m}
      members:
${members(http3)}
    - name: count
      algorithm: ROUND_ROBIN
      members:
${members(http3)}
    - name: tcp
      algorithm: LEAST_CONNECTIONS
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${members(tcp3)}
`;
  };

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) {
      http3.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`));
      tcp3.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
    }
    for (const k of Object.keys(port) as (keyof typeof port)[]) port[k] = await freeTcpPort();
    dir = tempDir();
    file = writeConfig(dir, "lb.yaml", config(false));
    proc = await runStickylb([file], ["--workers", "2"]);
    admin = await proc.adminPort();
  });
  afterAll(async () => {
    await proc?.stop("SIGKILL");
    await Promise.all([...http3, ...tcp3].map((b) => b.close()));
  });

  const adminJson = async (path: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${admin}${path}`);
    return (await res.json()) as Record<string, unknown>;
  };

  it("SOURCE_IP persistence: every client IP keeps its member, and both workers serve", async () => {
    const first = new Map<string, string>();
    for (const ip of clients) first.set(ip, (await get(port.ip, ip)).body);
    // Round robin spread the new clients over all members…
    expect(new Set(first.values()).size).toBe(3);
    // …and every later connection of a client goes where its first one went.
    for (let round = 0; round < 3; round++) {
      for (const ip of clients) expect((await get(port.ip, ip)).body).toBe(first.get(ip));
    }
    const status = await adminJson("/api/v1/status");
    const workers = status.workers as { worker: number; pid: number; connections: number }[];
    expect(workers).toHaveLength(2);
    expect(workers[0]!.pid).not.toBe(workers[1]!.pid);
    for (const w of workers) expect(w.connections).toBeGreaterThan(0);
    // The split tables of the two workers add up to one binding per client.
    const pool = (status.pools as { name: string; bindings: number }[]).find((p) => p.name === "ip")!;
    expect(pool.bindings).toBe(clients.length);
    // Each worker places its own clients: the primary does not pretend to know where.
    const explained = await fetch(
      `http://127.0.0.1:${admin}/api/v1/explain?listener=ip&client=${clients[0]}`,
    );
    expect(explained.status).toBe(501);
    expect(((await explained.json()) as { error: string }).error).toContain("--workers");
  });

  it("APP_COOKIE: a value learned through one worker is honoured through the other", async () => {
    const [a, b] = ipsOnBothWorkers();
    const homes = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const learned = await get(port.app, a, `/set-cookie?v=shared-${i}`);
      homes.set(`shared-${i}`, learned.body);
    }
    expect(new Set(homes.values()).size).toBeGreaterThan(1);
    // Replication is one IPC hop through the primary.
    await new Promise((r) => setTimeout(r, 300));
    for (const [value, home] of homes) {
      expect((await get(port.app, b, "/", { Cookie: `JSESSIONID=${value}` })).body).toBe(home);
      expect((await get(port.app, a, "/", { Cookie: `JSESSIONID=${value}` })).body).toBe(home);
    }
  });

  it("HTTP_COOKIE: a cookie issued by one worker is honoured by the other", async () => {
    const [a, b] = ipsOnBothWorkers();
    for (let i = 0; i < 3; i++) {
      const first = await get(port.cookie, a);
      const pair = cookiePair(first.setCookies, "STICKYLB")!;
      expect(pair).toBeDefined();
      for (let j = 0; j < 3; j++) {
        expect((await get(port.cookie, b, "/", { Cookie: pair })).body).toBe(first.body);
      }
    }
  });

  it("TCP with PROXY protocol: routed by the carried address, bytes after the header kept, half-close relayed", async () => {
    const first = new Map<string, string>();
    for (let i = 1; i <= 12; i++) {
      const answer = await tcpViaProxy(port.tcp, `10.9.0.${i}`, `hello ${i}`);
      const [name, echo] = answer.split("\n");
      expect(echo).toBe(`hello ${i}`);
      first.set(`10.9.0.${i}`, name!);
    }
    for (const [ip, name] of first) {
      expect((await tcpViaProxy(port.tcp, ip, "again")).split("\n")[0]).toBe(name);
    }
  });

  it("/metrics sums exact request counts over workers", async () => {
    const n = 40;
    for (let i = 0; i < n; i++) await get(port.count, clients[i % clients.length]!);
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith('stickylb_requests_total{listener="count"')) total += Number(line.split(" ").pop());
    }
    expect(total).toBe(n);
    expect(text).toMatch(/^stickylb_build_info\{version="[^"]+"\} 1$/m);
    expect(text).toMatch(/^stickylb_member_up\{pool="count",member="127\.0\.1\.1:\d+"\} 1$/m);
  });

  it("SIGHUP reloads every worker: a new listener serves clients of both workers", async () => {
    writeFileSync(file, config(true));
    proc!.child.kill("SIGHUP");
    await proc!.waitForLog((e) => e.msg === "configuration reloaded");
    const [a, b] = ipsOnBothWorkers();
    expect((await get(port.added, a)).status).toBe(200);
    expect((await get(port.added, b)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/^stickylb_config_reloads_total\{result="ok"\} 1$/m);
  });

  it("SIGTERM drains and exits 0", async () => {
    const started = Date.now();
    expect(await proc!.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
