/**
 * End to end, in one run: the real stickylb process with the state store (a real redis-server
 * started here) against the same process without it, on the same backends and the same machine.
 * Rounds alternate (without, with, without, with, …) so that a change in the machine's load hits
 * both sides alike.
 *
 * 1. APP_COOKIE returning clients: keep-alive HTTP requests carrying known session cookies, by
 *    several connections at once, requests per second; ratio with / without (target ≥ 0.9).
 * 2. SOURCE_IP persistence over TCP, returning clients: connections per second (connect, read the
 *    backend's line, close) from client IPs already bound; ratio (target ≥ 0.9).
 * 3. New-client placement: sequential HTTP requests each carrying a never-seen APP_COOKIE value
 *    (a local miss: with the store, one claim — one round trip — before placing); p50 and p99
 *    with and without (target p99 ≤ +1 ms).
 * 4. Store operations per request in each phase, from the server's own `INFO commandstats`:
 *    commands on the request path (target 0 for a returning client whose entry is cached and
 *    fresh, 1 for a new client), and apart from them the batched TTL refreshes (`PEXPIRE`, at most
 *    one per active key per second, whatever its request rate).
 *
 * Run: npm run build && node dist/bench/state-store-e2e.js [seconds-per-round]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const ROUND_MS = Number(process.argv[2] ?? 3) * 1000;
const ROUNDS = 4;
const MAIN = resolve(import.meta.dirname, "../src/main.js");
const SESSIONS = 64;
const CONNECTIONS = 8;
const TCP_CLIENTS = 16;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpBackend(name: string, address: string): Promise<{ port: number; close(): void }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const headers: Record<string, string> = { "content-type": "text/plain" };
    if (!(req.headers.cookie ?? "").includes("JSESSIONID="))
      headers["set-cookie"] = `JSESSIONID=${name}-${++n}`;
    res.writeHead(200, headers);
    res.end(`${name}\n`);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

async function tcpBackend(name: string, address: string): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

interface Lb {
  proc: ChildProcess;
  http: number;
  tcp: number;
  admin: number;
}

async function startLb(members: string, tcpMembers: string, store: string | undefined): Promise<Lb> {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-"));
  const file = join(dir, "lb.yaml");
  writeFileSync(
    file,
    `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: bench}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${httpPort}, defaultPool: web}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: tcp}
  pools:
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 10m}
      members:
${members}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 10m}
      members:
${tcpMembers}
`,
  );
  const args = [
    MAIN,
    "run",
    "-f",
    file,
    "--admin",
    `127.0.0.1:${adminPort}`,
    "--state-dir",
    dir,
    "--log-level",
    "warn",
  ];
  if (store !== undefined) args.push("--state-store", store);
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 200; i++) {
    try {
      await new Promise<void>((res, rej) => {
        const s = net.connect({ host: "127.0.0.1", port: httpPort }, () => {
          s.destroy();
          res();
        });
        s.on("error", rej);
      });
      break;
    } catch {
      await sleep(50);
    }
  }
  return { proc, http: httpPort, tcp: tcpPort, admin: adminPort };
}

function get(agent: http.Agent, port: number, cookie: string | undefined): Promise<string[]> {
  return new Promise((res, rej) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/", agent, headers: cookie === undefined ? {} : { cookie } },
      (r) => {
        r.resume();
        r.on("end", () => res((r.headers["set-cookie"] as string[] | undefined) ?? []));
        r.on("error", rej);
      },
    );
    req.on("error", rej);
    req.end();
  });
}

/** Learns SESSIONS cookies through `lb` (each bound there, and in the store when it has one). */
async function learnSessions(lb: Lb): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const set = await get(agent, lb.http, undefined);
    out.push(set[0]!.split(";")[0]!);
  }
  agent.destroy();
  return out;
}

async function returningHttp(lb: Lb, sessions: string[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let done = 0;
  const end = performance.now() + ROUND_MS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      let i = c;
      while (performance.now() < end) {
        await get(agent, lb.http, sessions[i++ % sessions.length]);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / (ROUND_MS / 1000);
}

function tcpOnce(port: number, localAddress: string): Promise<void> {
  return new Promise((res, rej) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    s.on("data", () => {});
    s.on("end", () => {
      s.destroy();
      res();
    });
    s.on("error", rej);
  });
}

async function returningTcp(lb: Lb): Promise<number> {
  let done = 0;
  const end = performance.now() + ROUND_MS;
  await Promise.all(
    Array.from({ length: TCP_CLIENTS }, async (_, c) => {
      const ip = `127.0.0.${c + 2}`;
      while (performance.now() < end) {
        await tcpOnce(lb.tcp, ip);
        done++;
      }
    }),
  );
  return done / (ROUND_MS / 1000);
}

let fresh = 0;
async function newClients(lb: Lb, count: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await get(agent, lb.http, `JSESSIONID=new-${process.pid}-${fresh++}`);
    times.push(performance.now() - t);
  }
  agent.destroy();
  return times;
}

/** Commands the server has run, by name (`INFO commandstats`; commands inside scripts included). */
function commandCalls(port: number): Map<string, number> {
  const text = execFileSync("redis-cli", ["-p", String(port), "INFO", "commandstats"]).toString();
  const calls = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m !== null) calls.set(m[1]!, Number(m[2]));
  }
  return calls;
}

/** stickylb's own count of store round trips by `op` (`stickylb_state_store_operations_total`), sent ones only. */
async function storeRoundTrips(adminPort: number): Promise<Map<string, number>> {
  const text = await new Promise<string>((res, rej) => {
    http
      .get({ host: "127.0.0.1", port: adminPort, path: "/metrics", agent: false }, (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (c: string) => {
          body += c;
        });
        r.on("end", () => res(body));
      })
      .on("error", rej);
  });
  const byOp = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^stickylb_state_store_operations_total\{op="([^"]+)",result="([^"]+)"\} (\d+)/.exec(line);
    if (m === null || m[2] === "skipped") continue;
    byOp.set(m[1]!, (byOp.get(m[1]!) ?? 0) + Number(m[3]));
  }
  return byOp;
}

/**
 * What one phase cost the store, per request: round trips on the request path (claims, lookups,
 * writes) and, apart from them, the batched TTL refreshes (`touch`), which do not depend on the
 * request rate but land in whichever phase runs when the one-second batch leaves.
 */
class StoreOps {
  private pathOps = 0;
  private refreshes = 0;
  private requests = 0;
  constructor(private readonly adminPort: number) {}

  async measure<T>(run: () => Promise<T>, requestsOf: (result: T) => number): Promise<T> {
    const before = await storeRoundTrips(this.adminPort);
    const result = await run();
    const after = await storeRoundTrips(this.adminPort);
    for (const [op, n] of after) {
      const d = n - (before.get(op) ?? 0);
      if (op === "touch") this.refreshes += d;
      else if (op !== "cookie_key") this.pathOps += d;
    }
    this.requests += requestsOf(result);
    return result;
  }

  report(): { requestPath: number; ttlRefreshes: number } {
    const per = (n: number) => Math.round((n / Math.max(1, this.requests)) * 10_000) / 10_000;
    return { requestPath: per(this.pathOps), ttlRefreshes: per(this.refreshes) };
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const redisPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-redis-"));
  const redis = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const backends = await Promise.all([1, 2, 3].map((i) => httpBackend(`h${i}`, `127.0.1.${i}`)));
  const tcpBackends = await Promise.all([1, 2, 3].map((i) => tcpBackend(`t${i}`, `127.0.1.${i}`)));
  const yaml = (ports: { port: number }[]) =>
    ports.map((b, i) => `        - {address: 127.0.1.${i + 1}, port: ${b.port}}`).join("\n");
  for (let i = 0; i < 100; i++) {
    try {
      if (
        execFileSync("redis-cli", ["-p", String(redisPort), "PING"])
          .toString()
          .trim() === "PONG"
      )
        break;
    } catch {}
    await sleep(50);
  }
  const plain = await startLb(yaml(backends), yaml(tcpBackends), undefined);
  const shared = await startLb(yaml(backends), yaml(tcpBackends), `redis://127.0.0.1:${redisPort}`);
  try {
    await sleep(500);
    const sessions = { plain: await learnSessions(plain), shared: await learnSessions(shared) };
    // Bind every TCP client IP once on each side.
    for (let c = 0; c < TCP_CLIENTS; c++) {
      await tcpOnce(plain.tcp, `127.0.0.${c + 2}`);
      await tcpOnce(shared.tcp, `127.0.0.${c + 2}`);
    }
    const http = { plain: [] as number[], shared: [] as number[] };
    const tcp = { plain: [] as number[], shared: [] as number[] };
    const lat = { plain: [] as number[], shared: [] as number[] };
    const ops = {
      http: new StoreOps(shared.admin),
      tcp: new StoreOps(shared.admin),
      fresh: new StoreOps(shared.admin),
    };
    const perRound = (rate: number) => Math.round((rate * ROUND_MS) / 1000);
    for (let r = 0; r < ROUNDS; r++) {
      // Which side goes first alternates too: a load change within a round then hits both.
      const order = r % 2 === 0 ? (["plain", "shared"] as const) : (["shared", "plain"] as const);
      for (const side of order) {
        const lb = side === "plain" ? plain : shared;
        if (side === "plain") {
          http.plain.push(await returningHttp(lb, sessions.plain));
          tcp.plain.push(await returningTcp(lb));
          lat.plain.push(...(await newClients(lb, 1000)));
          continue;
        }
        http.shared.push(await ops.http.measure(() => returningHttp(lb, sessions.shared), perRound));
        tcp.shared.push(await ops.tcp.measure(() => returningTcp(lb), perRound));
        lat.shared.push(
          ...(await ops.fresh.measure(
            () => newClients(lb, 1000),
            (t) => t.length,
          )),
        );
      }
    }
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const ratio = (o: { plain: number[]; shared: number[] }) => sum(o.shared) / sum(o.plain);
    lat.plain.sort((a, b) => a - b);
    lat.shared.sort((a, b) => a - b);
    const totals = commandCalls(redisPort);
    const result = {
      roundSeconds: ROUND_MS / 1000,
      rounds: ROUNDS,
      loadAverage: (await import("node:os")).loadavg().map((x) => Math.round(x * 10) / 10),
      appCookieReturning: {
        withoutRps: Math.round(sum(http.plain) / ROUNDS),
        withRps: Math.round(sum(http.shared) / ROUNDS),
        ratio: Math.round(ratio(http) * 1000) / 1000,
      },
      sourceIpTcpReturning: {
        withoutCps: Math.round(sum(tcp.plain) / ROUNDS),
        withCps: Math.round(sum(tcp.shared) / ROUNDS),
        ratio: Math.round(ratio(tcp) * 1000) / 1000,
      },
      newClientMs: {
        withoutP50: quantile(lat.plain, 0.5).toFixed(3),
        withP50: quantile(lat.shared, 0.5).toFixed(3),
        withoutP99: quantile(lat.plain, 0.99).toFixed(3),
        withP99: quantile(lat.shared, 0.99).toFixed(3),
        p99DeltaMs: (quantile(lat.shared, 0.99) - quantile(lat.plain, 0.99)).toFixed(3),
      },
      storeOpsPerRequest: {
        appCookieReturning: ops.http.report(),
        sourceIpTcpReturning: ops.tcp.report(),
        newClient: ops.fresh.report(),
      },
      redisCommands: [...totals].map(([name, n]) => `${name} ${n}`),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    plain.proc.kill("SIGTERM");
    shared.proc.kill("SIGTERM");
    for (const b of [...backends, ...tcpBackends]) b.close();
    await sleep(300);
    redis.kill("SIGKILL");
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
