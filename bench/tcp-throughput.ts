/**
 * TCP bulk throughput: pushes BYTES (default 1 GiB) through the real stickylb process, through the
 * naive Node `pipe` relay (`peers/naive-pipe.ts`) and directly to the same sink, a few rounds
 * interleaved, and prints Gbit/s of each and the ratios of medians.
 *
 *   npm run bench:tcp            # 1 GiB per run, 3 rounds
 *   BYTES=4294967296 ROUNDS=5 npm run bench:tcp
 *   CHILD_NODE_ARGS=--trace-gc npm run bench:tcp   # Node flags for both relays (GC traces carry the pid)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const BYTES = Number(process.env.BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CHILD_NODE_ARGS = (process.env.CHILD_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const CHUNK = Buffer.alloc(256 * 1024, 0x61);

async function listen(server: net.Server, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((r) => server.listen({ host, port: 0 }, r));
  return (server.address() as net.AddressInfo).port;
}

/** A sink that counts bytes and resolves the waiting run when its total arrives. */
function startSink() {
  let waiting: { total: number; resolve: () => void } | undefined;
  let received = 0;
  const server = net.createServer((socket) => {
    socket.on("data", (chunk) => {
      received += chunk.length;
      if (waiting !== undefined && received >= waiting.total) {
        const w = waiting;
        waiting = undefined;
        w.resolve();
      }
    });
    socket.on("error", () => {});
  });
  return {
    server,
    expect(total: number): Promise<void> {
      received = 0;
      return new Promise((resolve) => {
        waiting = { total, resolve };
      });
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The relay's CPU seconds per GiB moved during `run`: unlike Gbit/s, barely moved by other load. */
async function measured(pid: number | undefined, cpu: number[], run: () => Promise<number>): Promise<number> {
  const before = cpuSeconds(pid);
  const rate = await run();
  cpu.push((cpuSeconds(pid) - before) / (BYTES / 1024 ** 3));
  return rate;
}

async function push(port: number, sink: ReturnType<typeof startSink>): Promise<number> {
  const done = sink.expect(BYTES);
  const t0 = process.hrtime.bigint();
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((r) => socket.once("connect", r));
  let sent = 0;
  await new Promise<void>((resolveWrite) => {
    const write = (): void => {
      while (sent < BYTES) {
        sent += CHUNK.length;
        if (!socket.write(CHUNK)) {
          socket.once("drain", write);
          return;
        }
      }
      resolveWrite();
    };
    write();
  });
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  socket.destroy();
  return (BYTES * 8) / seconds / 1e9;
}

/** Resolves once something accepts on `port` (a loaded machine may take seconds to start a relay). */
async function waitForPort(port: number): Promise<void> {
  for (let tries = 0; ; tries++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    if (tries > 300) throw new Error(`nothing listens on port ${port} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const sink = startSink();
  const sinkPort = await listen(sink.server);
  // A port free a moment ago, for the stickylb listener (its YAML needs the port before it starts).
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-"));
  const file = join(dir, "lb.yaml");
  writeFileSync(
    file,
    `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: bench}
spec:
  listeners:
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${port}, defaultPool: p}
  pools:
    - name: p
      algorithm: SOURCE_IP
      members:
        - {address: 127.0.0.1, port: ${sinkPort}}
`,
  );
  const main = resolve(import.meta.dirname, "../src/main.js");
  const child = spawn(
    process.execPath,
    [...CHILD_NODE_ARGS, main, "run", "-f", file, "--admin", "off", "--log-level", "warn"],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const probe2 = net.createServer();
  const naivePort = await listen(probe2);
  await new Promise((r) => probe2.close(r));
  const naive = spawn(
    process.execPath,
    [
      resolve(import.meta.dirname, "peers/naive-pipe.js"),
      "--listen",
      `127.0.0.1:${naivePort}=127.0.0.1:${sinkPort}`,
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  await waitForPort(port);
  await waitForPort(naivePort);
  const direct: number[] = [];
  const through: number[] = [];
  const piped: number[] = [];
  const throughCpu: number[] = [];
  const pipedCpu: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Who goes first alternates, so that a drift in the machine's load favours neither.
      if (round % 2 === 0) {
        through.push(await measured(child.pid, throughCpu, () => push(port, sink)));
        piped.push(await measured(naive.pid, pipedCpu, () => push(naivePort, sink)));
      } else {
        piped.push(await measured(naive.pid, pipedCpu, () => push(naivePort, sink)));
        through.push(await measured(child.pid, throughCpu, () => push(port, sink)));
      }
      direct.push(await push(sinkPort, sink));
      console.log(
        `round ${round + 1}: direct ${direct.at(-1)!.toFixed(2)} Gbit/s, stickylb ${through.at(-1)!.toFixed(2)} Gbit/s, naive pipe ${piped.at(-1)!.toFixed(2)} Gbit/s`,
      );
    }
  } finally {
    child.kill("SIGTERM");
    naive.kill("SIGTERM");
    sink.server.close();
  }
  const d = median(direct);
  const s = median(through);
  const n = median(piped);
  console.log(`\n| path | Gbit/s (median of ${ROUNDS}, ${(BYTES / 1024 ** 3).toFixed(1)} GiB each) |`);
  console.log("| --- | --- |");
  console.log(`| direct | ${d.toFixed(2)} |`);
  console.log(`| through stickylb | ${s.toFixed(2)} |`);
  console.log(`| through the naive pipe relay | ${n.toFixed(2)} |`);
  console.log(`| ratio stickylb / naive pipe | ${(s / n).toFixed(2)} |`);
  console.log(`| ratio stickylb / direct | ${(s / d).toFixed(2)} |`);
  console.log(
    `\nrelay CPU seconds per GiB (median): stickylb ${median(throughCpu).toFixed(2)}, naive pipe ${median(pipedCpu).toFixed(2)}`,
  );
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}

await main();
