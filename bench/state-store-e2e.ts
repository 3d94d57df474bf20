/**
 * End to end, in one run: the real stickylb process with the state store (a real redis-server
 * started here) against the same process without it, on the same backends and the same machine.
 * The backends are nginx and the HTTP load comes from wrk, so that no Node process of the bench
 * (and its garbage collector) sits on the measured path; rounds alternate (without, with, …, and
 * which side goes first alternates too) so that a change in the machine's load hits both sides.
 *
 * 1. APP_COOKIE returning clients: wrk, 8 keep-alive connections, requests cycling over 10,000
 *    sessions bound before the first round; requests per second and p99, ratio with / without
 *    (target ≥ 0.9), and the stickylb process's CPU time per request on each side (from /proc),
 *    which the machine's other load delays but does not add to. The pools' persistenceTimeout is one minute, so that the TTL refreshes of a
 *    store with many active keys happen during the run (one per key per 2–3.75 s).
 * 2. SOURCE_IP persistence over TCP, returning clients: connections per second (connect, read the
 *    backend's line, close) from 16 client IPs already bound; ratio (target ≥ 0.9), and CPU time
 *    per connection.
 * 3. New-client placement: requests each carrying a never-seen APP_COOKIE value (a local miss:
 *    with the store, one claim — one round trip — before placing), one at a time on one keep-alive
 *    connection per side, alternating side at every request so that both see the same moments of
 *    the machine; p50, p99 and p99.9 with and without (target p99 ≤ +1 ms).
 * 4. New clients under load: wrk, 8 connections, every request a session never seen; requests
 *    per second and p99 (median of rounds), with and without — what the claims cost when new
 *    clients arrive as fast as the machine can send them (no target; p99 there is mostly queueing).
 * 5. Store operations per request in each phase, from stickylb's own metrics: round trips on the
 *    request path (target 0 for a returning client whose entry is cached and fresh, 1 for a new
 *    client), and apart from them the batched TTL refreshes (`touch`).
 *
 * Needs wrk, nginx with its stream module, and redis-server.
 * Run: npm run build && [ROUNDS=4] node dist/bench/state-store-e2e.js [seconds-per-round]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { freePort } from "./lib/bench-net.js";
import { MEMBER_ADDRESSES, type NginxBackends, startNginxBackends } from "./lib/nginx-backends.js";
import { RawHttpClient } from "./lib/raw-http-client.js";
import { type WrkFigures, writeSessionScript, wrk } from "./lib/wrk.js";

const ROUND_S = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
/** The stickylb build to measure (STICKYLB_MAIN: another build's dist/src/main.js, e.g. an older commit). */
const MAIN = process.env.STICKYLB_MAIN ?? resolve(import.meta.dirname, "../src/main.js");
const SESSIONS = 10_000;
const CONNECTIONS = 8;
const TCP_CLIENTS = 16;
const NEW_CLIENTS_PER_ROUND = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system, every thread) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs a phase on `lb` and adds the CPU the stickylb process spent on it to `cpu`. */
async function onCpu<T>(lb: Lb, cpu: number[], run: () => Promise<T>): Promise<T> {
  const before = cpuSeconds(lb.proc.pid!);
  const result = await run();
  cpu.push(cpuSeconds(lb.proc.pid!) - before);
  return result;
}

interface Lb {
  readonly name: "plain" | "shared";
  readonly proc: ChildProcess;
  readonly http: number;
  readonly tcp: number;
  readonly admin: number;
}

async function startLb(name: Lb["name"], backends: NginxBackends, store: string | undefined): Promise<Lb> {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-"));
  const file = join(dir, "lb.yaml");
  const members = (port: number) =>
    MEMBER_ADDRESSES.map((a) => `        - {address: ${a}, port: ${port}}`).join("\n");
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
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
      members:
${members(backends.httpPort)}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 1m}
      members:
${members(backends.tcpPort)}
`,
  );
  const args = [MAIN, "run", "-f", file, "--admin", `127.0.0.1:${adminPort}`, "--state-dir", dir];
  args.push("--log-level", "warn");
  if (store !== undefined) args.push("--state-store", store);
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((res) => {
      const s = net.connect({ host: "127.0.0.1", port: httpPort }, () => {
        s.destroy();
        res(true);
      });
      s.on("error", () => res(false));
    });
    if (up) break;
    await sleep(50);
  }
  return { name, proc, http: httpPort, tcp: tcpPort, admin: adminPort };
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
  const end = performance.now() + ROUND_S * 1000;
  await Promise.all(
    Array.from({ length: TCP_CLIENTS }, async (_, c) => {
      const ip = `127.0.0.${c + 2}`;
      while (performance.now() < end) {
        await tcpOnce(lb.tcp, ip);
        done++;
      }
    }),
  );
  return done / ROUND_S;
}

let freshClient = 0;
/** New clients on both sides, one request at a time, alternating side at every request. */
async function newClients(lbs: readonly Lb[], perSide: number): Promise<Map<Lb["name"], number[]>> {
  const clients = lbs.map((lb) => new RawHttpClient("127.0.0.1", lb.http));
  const times = new Map(lbs.map((lb) => [lb.name, [] as number[]]));
  for (let i = 0; i < perSide; i++) {
    for (let k = 0; k < lbs.length; k++) {
      const j = (i + k) % lbs.length;
      const t = performance.now();
      await clients[j]!.get([`Cookie: JSESSIONID=new-${process.pid}-${freshClient++}`]);
      times.get(lbs[j]!.name)!.push(performance.now() - t);
    }
  }
  for (const c of clients) c.close();
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
 * request rate but land in whichever phase runs when a refresh leaves.
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

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function startRedis(): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-redis-"));
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    try {
      if (
        execFileSync("redis-cli", ["-p", String(port), "PING"])
          .toString()
          .trim() === "PONG"
      )
        break;
    } catch {}
    await sleep(50);
  }
  return { port, proc };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const backends = await startNginxBackends();
  const plain = await startLb("plain", backends, undefined);
  const shared = await startLb("shared", backends, `redis://127.0.0.1:${redis.port}`);
  const scriptDir = mkdtempSync(join(tmpdir(), "stickylb-bench-wrk-"));
  const script = writeSessionScript(scriptDir);
  const appCookie = (lb: Lb, seconds: number) =>
    wrk({
      url: `http://127.0.0.1:${lb.http}/`,
      connections: CONNECTIONS,
      seconds,
      script,
      scriptArgs: [`returning-${process.pid}`, String(SESSIONS)],
    });
  let burst = 0;
  /** Every request a session never seen (count 0): a claim each, at the rate wrk can drive. */
  const newUnderLoad = (lb: Lb) =>
    wrk({
      url: `http://127.0.0.1:${lb.http}/`,
      connections: CONNECTIONS,
      seconds: ROUND_S,
      script,
      scriptArgs: [`burst-${process.pid}-${burst++}`, "0"],
    });
  try {
    await sleep(500);
    // Bind every session and every TCP client IP on each side (and warm both processes up).
    for (const lb of [plain, shared]) {
      for (let pass = 0; pass < 2; pass++) await appCookie(lb, Math.max(3, ROUND_S));
      for (let c = 0; c < TCP_CLIENTS; c++) await tcpOnce(lb.tcp, `127.0.0.${c + 2}`);
    }
    await newClients([plain, shared], 500);
    const http = { plain: [] as WrkFigures[], shared: [] as WrkFigures[] };
    const tcp = { plain: [] as number[], shared: [] as number[] };
    const lat = { plain: [] as number[], shared: [] as number[] };
    const loaded = { plain: [] as WrkFigures[], shared: [] as WrkFigures[] };
    // CPU seconds of each stickylb process per round, for the two returning phases.
    const cpu = {
      http: { plain: [] as number[], shared: [] as number[] },
      tcp: { plain: [] as number[], shared: [] as number[] },
    };
    const ops = {
      http: new StoreOps(shared.admin),
      tcp: new StoreOps(shared.admin),
      fresh: new StoreOps(shared.admin),
    };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [plain, shared] : [shared, plain];
      for (const lb of order) {
        if (lb === plain) {
          http.plain.push(await onCpu(lb, cpu.http.plain, () => appCookie(lb, ROUND_S)));
          tcp.plain.push(await onCpu(lb, cpu.tcp.plain, () => returningTcp(lb)));
        } else {
          http.shared.push(
            await ops.http.measure(
              () => onCpu(lb, cpu.http.shared, () => appCookie(lb, ROUND_S)),
              (f) => f.rps * ROUND_S,
            ),
          );
          tcp.shared.push(
            await ops.tcp.measure(
              () => onCpu(lb, cpu.tcp.shared, () => returningTcp(lb)),
              (cps) => cps * ROUND_S,
            ),
          );
        }
      }
      const times = await ops.fresh.measure(
        () => newClients(order, NEW_CLIENTS_PER_ROUND),
        () => NEW_CLIENTS_PER_ROUND,
      );
      lat.plain.push(...times.get("plain")!);
      lat.shared.push(...times.get("shared")!);
      for (const lb of order) loaded[lb.name].push(await newUnderLoad(lb));
    }
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    lat.plain.sort((a, b) => a - b);
    lat.shared.sort((a, b) => a - b);
    const ms = (v: number) => Number(v.toFixed(3));
    /** CPU microseconds per request (or connection) of each side, and with ÷ without. */
    const cpuPer = (
      c: { plain: number[]; shared: number[] },
      rates: { plain: number[]; shared: number[] },
    ) => {
      const per = (side: "plain" | "shared") => (sum(c[side]) * 1e6) / (sum(rates[side]) * ROUND_S);
      return {
        withoutUs: Number(per("plain").toFixed(2)),
        withUs: Number(per("shared").toFixed(2)),
        ratio: Number((per("shared") / per("plain")).toFixed(3)),
      };
    };
    const result = {
      roundSeconds: ROUND_S,
      rounds: ROUNDS,
      loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
      appCookieReturning: {
        sessions: SESSIONS,
        withoutRps: Math.round(sum(http.plain.map((f) => f.rps)) / ROUNDS),
        withRps: Math.round(sum(http.shared.map((f) => f.rps)) / ROUNDS),
        ratio: Number((sum(http.shared.map((f) => f.rps)) / sum(http.plain.map((f) => f.rps))).toFixed(3)),
        p99MedianOfRoundsMs: [
          ms(median(http.plain.map((f) => f.p99))),
          ms(median(http.shared.map((f) => f.p99))),
        ],
        errors: sum([...http.plain, ...http.shared].map((f) => f.errors)),
        cpuPerRequest: cpuPer(cpu.http, {
          plain: http.plain.map((f) => f.rps),
          shared: http.shared.map((f) => f.rps),
        }),
      },
      sourceIpTcpReturning: {
        withoutCps: Math.round(sum(tcp.plain) / ROUNDS),
        withCps: Math.round(sum(tcp.shared) / ROUNDS),
        ratio: Number((sum(tcp.shared) / sum(tcp.plain)).toFixed(3)),
        cpuPerConnection: cpuPer(cpu.tcp, tcp),
      },
      newClientMs: {
        samplesPerSide: lat.plain.length,
        p50: [ms(quantile(lat.plain, 0.5)), ms(quantile(lat.shared, 0.5))],
        p99: [ms(quantile(lat.plain, 0.99)), ms(quantile(lat.shared, 0.99))],
        p999: [ms(quantile(lat.plain, 0.999)), ms(quantile(lat.shared, 0.999))],
        p50DeltaMs: ms(quantile(lat.shared, 0.5) - quantile(lat.plain, 0.5)),
        p99DeltaMs: ms(quantile(lat.shared, 0.99) - quantile(lat.plain, 0.99)),
      },
      newClientsUnderLoad: {
        withoutRps: Math.round(sum(loaded.plain.map((f) => f.rps)) / ROUNDS),
        withRps: Math.round(sum(loaded.shared.map((f) => f.rps)) / ROUNDS),
        ratio: Number(
          (sum(loaded.shared.map((f) => f.rps)) / sum(loaded.plain.map((f) => f.rps))).toFixed(3),
        ),
        p99MedianOfRoundsMs: [
          ms(median(loaded.plain.map((f) => f.p99))),
          ms(median(loaded.shared.map((f) => f.p99))),
        ],
      },
      storeOpsPerRequest: {
        appCookieReturning: ops.http.report(),
        sourceIpTcpReturning: ops.tcp.report(),
        newClient: ops.fresh.report(),
      },
      redisCommands: [...commandCalls(redis.port)].map(([name, n]) => `${name} ${n}`),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    plain.proc.kill("SIGTERM");
    shared.proc.kill("SIGTERM");
    backends.stop();
    await sleep(300);
    redis.proc.kill("SIGKILL");
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
