/**
 * The shared state store's own costs, against a real redis-server started here (no persistence,
 * a free loopback port):
 *
 * 1. store operations per request: returning clients whose entry is cached and fresh (target 0 on
 *    the request path; the batched TTL refresh adds at most one refresh per key per refresh
 *    period — a sixteenth of the timeout, 3.75 s here — whatever the request rate), and new clients
 *    (one claim on the local miss, nothing after);
 * 2. hot-path cost: ns per cached lookup with the store attached against a plain BindingTable;
 * 3. Redis memory per binding at N bindings (default 1,000,000), from `INFO memory`, for
 *    APP_COOKIE (43-character hashed keys) and SOURCE_IP (IPv4 keys).
 *
 * Run: npm run build && node dist/bench/state-store.js [bindings]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { BindingTable } from "../src/data/affinity/binding-table.js";
import { openStateStore } from "../src/store/state-store.js";

const BINDINGS = Number(process.argv[2] ?? 1_000_000);
const A = "web/10.0.0.1:8080";

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function cli(port: number, ...args: string[]): string {
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])
    .toString()
    .trim();
}

function usedMemory(port: number): number {
  const line = cli(port, "INFO", "memory")
    .split("\n")
    .find((l) => l.startsWith("used_memory:"));
  return Number(line?.split(":")[1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-redis-"));
  const redis: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  try {
    for (let i = 0; i < 100; i++) {
      try {
        if (cli(port, "PING") === "PONG") break;
      } catch {}
      await sleep(50);
    }
    const store = openStateStore({
      url: `redis://127.0.0.1:${port}`,
      log: pino({ level: "warn" }),
      flushIntervalMs: 1000,
      maxWriteBack: 2 * BINDINGS,
    });
    while (!store.connection.up) await sleep(20);
    const m = store.metrics;
    const total = () =>
      (["get", "claim", "bind", "touch", "delete"] as const)
        .map((op) => m.operations(op, "ok") + m.operations(op, "error") + m.operations(op, "timeout"))
        .reduce((a, b) => a + b, 0);

    // 1. Operations per request.
    const pool = store.bindings.pool("web", { ttlMs: 60_000, maxEntries: 2 * BINDINGS, kind: "APP_COOKIE" });
    const clients = 10_000;
    let before = total();
    for (let i = 0; i < clients; i++) {
      const key = `new-session-${i}`;
      // What the placement front does for a new client: one claim, then the (unchanged) bind.
      if (pool.get(key) === undefined) {
        const held = await pool.claimShared(key, A);
        pool.bind(key, held ?? A);
      }
    }
    await store.bindings.settle();
    const newOps = (total() - before) / clients;
    // Returning clients: 10 requests each over ~3 s (three flush intervals).
    before = total();
    const requests = 10 * clients;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < clients; i++) pool.get(`new-session-${i}`);
      await sleep(300);
    }
    await sleep(1100);
    const returningOps = (total() - before) / requests;
    let syncOps = total();
    for (let i = 0; i < requests; i++) pool.get(`new-session-${i % clients}`);
    syncOps = total() - syncOps;

    // 2. Hot path: cached lookups with the store attached vs a plain table (same keys).
    const plain = new BindingTable({ ttlMs: 60_000, maxEntries: 2 * BINDINGS });
    for (let i = 0; i < clients; i++) plain.bind(`new-session-${i}`, A);
    const time = (fn: (i: number) => void, n: number) => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn(i);
      return Number(process.hrtime.bigint() - t) / n;
    };
    const N = 1_000_000;
    time((i) => plain.get(`new-session-${i % clients}`), N / 10);
    time((i) => pool.get(`new-session-${i % clients}`), N / 10);
    const plainNs = time((i) => plain.get(`new-session-${i % clients}`), N);
    const sharedNs = time((i) => pool.get(`new-session-${i % clients}`), N);

    // 3. Memory per binding. The first pool is forgotten, or its refreshes would write its
    // bindings back into the flushed store (as after a restart).
    store.bindings.retainPools(new Set());
    const memory = async (kind: "APP_COOKIE" | "SOURCE_IP", key: (i: number) => string) => {
      cli(port, "FLUSHALL");
      await sleep(200);
      const base = usedMemory(port);
      const p = store.bindings.pool(`mem-${kind}`, { ttlMs: 3_600_000, maxEntries: 2 * BINDINGS, kind });
      for (let i = 0; i < BINDINGS; i += 50_000) {
        for (let j = i; j < Math.min(BINDINGS, i + 50_000); j++)
          p.bind(key(j), `mem-${kind}/10.0.${j % 10}.1:8080`);
        await store.bindings.settle();
      }
      const keys = Number(cli(port, "DBSIZE"));
      return { keys, bytes: (usedMemory(port) - base) / keys };
    };
    const cookie = await memory("APP_COOKIE", (i) => `session-${i.toString(16).padStart(24, "0")}`);
    const ip = await memory("SOURCE_IP", (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

    console.log(`redis-server ${cli(port, "INFO", "server").match(/redis_version:(\S+)/)?.[1]}`);
    console.log(`store operations per request, new client (local miss: one claim): ${newOps.toFixed(2)}`);
    console.log(`store operations on the request path, returning cached client: ${syncOps / requests}`);
    console.log(
      `store operations per request, returning client at 10 requests per key in 3 s, batched TTL refresh included: ${returningOps.toFixed(3)}`,
    );
    console.log(
      `cached lookup: ${sharedNs.toFixed(0)} ns with the store attached, ${plainNs.toFixed(0)} ns plain table`,
    );
    console.log(
      `Redis memory per binding, APP_COOKIE (SHA-256 keys), ${cookie.keys} bindings: ${cookie.bytes.toFixed(1)} bytes`,
    );
    console.log(
      `Redis memory per binding, SOURCE_IP (IPv4 keys), ${ip.keys} bindings: ${ip.bytes.toFixed(1)} bytes`,
    );
    await store.close();
  } finally {
    redis.kill("SIGKILL");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
