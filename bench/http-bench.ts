/**
 * HTTP requests/s and p99 latency with wrk: direct to a backend, through stickylb without
 * stickiness, and through stickylb with HTTP_COOKIE (the client sending its cookie, the hit path),
 * side by side in one run. Two backends (small `200 OK` bodies) run in a child process so that
 * they do not share an event loop with anything else.
 *
 *   npm run build && node dist/bench/http-bench.js          # needs `wrk` on PATH
 *   DURATION=10s CONNECTIONS=64 THREADS=2 node dist/bench/http-bench.js
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const DURATION = process.env.DURATION ?? "5s";
const CONNECTIONS = process.env.CONNECTIONS ?? "32";
const THREADS = process.env.THREADS ?? "1";
const run = promisify(execFile);

const BACKEND_SOURCE = `
const http = require("node:http");
const ports = [];
let n = 0;
for (const name of ["b1", "b2"]) {
  const s = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => { res.writeHead(200, { "Content-Type": "text/plain" }); res.end(name + "\\n"); });
  s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); if (++n === 2) process.stdout.write(JSON.stringify(ports) + "\\n"); });
}
`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function firstLine(child: ChildProcess, predicate: (line: string) => boolean): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let buffered = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split("\n")) if (predicate(line)) resolveLine(line);
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
  });
}

function get(port: number): Promise<string[]> {
  return new Promise((resolveGet, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/" }, (res) => {
        res.resume();
        resolveGet(res.headers["set-cookie"] ?? []);
      })
      .on("error", reject);
  });
}

interface Figures {
  readonly rps: number;
  readonly p99Ms: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

async function wrk(port: number, headers: string[] = []): Promise<Figures> {
  const args = ["-t", THREADS, "-c", CONNECTIONS, "-d", DURATION, "--latency"];
  for (const h of headers) args.push("-H", h);
  args.push(`http://127.0.0.1:${port}/`);
  const { stdout } = await run("wrk", args);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? "";
  return { rps, p99Ms: toMs(p99) };
}

async function main(): Promise<void> {
  const backends = spawn(process.execPath, ["-e", BACKEND_SOURCE], { stdio: ["ignore", "pipe", "inherit"] });
  const [p1, p2] = JSON.parse(await firstLine(backends, (l) => l.startsWith("["))) as [number, number];
  const plain = await freePort();
  const sticky = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-"));
  const file = join(dir, "lb.yaml");
  const members = `      members:\n        - {address: 127.0.0.1, port: ${p1}}\n        - {address: 127.0.0.1, port: ${p2}}\n`;
  writeFileSync(
    file,
    `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: bench}
spec:
  listeners:
    - {name: plain, protocol: HTTP, address: 127.0.0.1, port: ${plain}, defaultPool: plain}
    - {name: sticky, protocol: HTTP, address: 127.0.0.1, port: ${sticky}, defaultPool: sticky}
  pools:
    - name: plain
      algorithm: ROUND_ROBIN
${members}    - name: sticky
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m}
${members}`,
  );
  const main = resolve(import.meta.dirname, "../src/main.js");
  const lb = spawn(
    process.execPath,
    [main, "run", "-f", file, "--admin", "off", "--log-level", "warn", "--state-dir", join(dir, "state")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    // Started when both listeners answer.
    for (let i = 0; ; i++) {
      try {
        await get(plain);
        await get(sticky);
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const cookie = (await get(sticky))[0]?.split(";")[0];
    if (cookie === undefined) throw new Error("the sticky listener set no cookie");
    // Warm-up, then the three runs in one sitting.
    await wrk(plain);
    const rows: [string, Figures][] = [
      ["direct to a backend", await wrk(p1)],
      ["stickylb, ROUND_ROBIN, no stickiness", await wrk(plain)],
      ["stickylb, HTTP_COOKIE (cookie sent)", await wrk(sticky, [`Cookie: ${cookie}`])],
      ["stickylb, HTTP_COOKIE (no cookie: insert)", await wrk(sticky)],
    ];
    console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}, node ${process.version}`);
    console.log("| path | requests/s | p99 |");
    console.log("| --- | ---: | ---: |");
    for (const [name, f] of rows)
      console.log(`| ${name} | ${Math.round(f.rps)} | ${f.p99Ms.toFixed(2)} ms |`);
  } finally {
    lb.kill("SIGTERM");
    backends.kill("SIGTERM");
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
