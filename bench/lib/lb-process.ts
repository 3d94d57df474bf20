/**
 * The real stickylb process for campaign benches: started from `dist/src/main.js` with a
 * configuration text, its admin port read from the log, and its memory read three ways — RSS from
 * /proc, V8's heap through the admin API's default series, and the live heap (after a full GC)
 * through a heap snapshot written on SIGUSR2, summed and grouped by constructor to show where the
 * bytes are.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// Compiled (dist/bench/lib) or run from source by a test (bench/lib): the entry point is in dist.
const MAIN = resolve(
  import.meta.dirname,
  import.meta.dirname.includes("/dist/") ? "../../src/main.js" : "../../dist/src/main.js",
);

export interface LbProcess {
  readonly child: ChildProcess;
  readonly adminPort: number;
  readonly dir: string;
  /** Log lines so far, parsed. */
  logs(): Record<string, unknown>[];
  metrics(): Promise<string>;
  rssBytes(): number;
  /** Live heap after a full GC, and its biggest constructors (bytes). */
  liveHeap(top?: number): Promise<HeapSummary>;
  reload(config: string): void;
  stop(): Promise<void>;
}

export function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export async function startLb(
  config: string,
  nodeFlags: string[] = [],
  prefix: string[] = [],
): Promise<LbProcess> {
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-"));
  const file = join(dir, "lb.yaml");
  writeFileSync(file, config);
  const argv = [
    ...prefix,
    process.execPath,
    ...nodeFlags,
    "--heapsnapshot-signal=SIGUSR2",
    MAIN,
    "run",
    "-f",
    file,
    "--admin",
    "127.0.0.1:0",
    "--state-dir",
    dir,
    "--log-level",
    "info",
  ];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  const entries: Record<string, unknown>[] = [];
  let partial = "";
  let onLine: (() => void) | undefined;
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    let nl = partial.indexOf("\n");
    while (nl >= 0) {
      try {
        entries.push(JSON.parse(partial.slice(0, nl)) as Record<string, unknown>);
      } catch {
        // not JSON
      }
      partial = partial.slice(nl + 1);
      nl = partial.indexOf("\n");
    }
    onLine?.();
  });
  const waitFor = (pred: (e: Record<string, unknown>) => boolean, ms = 20_000) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const t = setTimeout(() => rej(new Error("stickylb did not log the expected line")), ms);
      const check = () => {
        const e = entries.find(pred);
        if (e !== undefined) {
          clearTimeout(t);
          onLine = undefined;
          res(e);
        }
      };
      onLine = check;
      check();
    });
  const adminPort = (await waitFor((e) => e.msg === "admin listener bound")).port as number;
  await waitFor((e) => e.msg === "stickylb started");
  const exit = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    adminPort,
    dir,
    logs: () => entries,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
    rssBytes: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return Number(m?.[1] ?? Number.NaN) * 1024;
    },
    liveHeap: async (top = 8) => {
      const before = new Set(readdirSync(dir));
      child.kill("SIGUSR2");
      let snap: string | undefined;
      for (let i = 0; i < 1200 && snap === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        snap = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
        if (snap !== undefined) {
          // Written in pieces: wait until the size stops changing and the JSON closes.
          let last = "";
          for (;;) {
            await new Promise((r) => setTimeout(r, 300));
            const text = readFileSync(join(dir, snap), "utf8");
            if (text === last && text.trimEnd().endsWith("}")) break;
            last = text;
          }
        }
      }
      if (snap === undefined) throw new Error("no heap snapshot written");
      const path = join(dir, snap);
      const result = summariseSnapshot(readFileSync(path, "utf8"), top);
      rmSync(path);
      return result;
    },
    reload: (config: string) => {
      writeFileSync(file, config);
      child.kill("SIGHUP");
    },
    stop: async () => {
      child.kill("SIGTERM");
      await exit;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  readonly bytes: number;
  /**
   * Of `bytes`, what V8 keeps for running code (bytecode, optimised code, feedback): it grows as the
   * JIT warms up under traffic and levels off, whatever the program keeps.
   */
  readonly codeBytes: number;
  readonly top: [string, number][];
}

/** Sums a V8 heap snapshot's self sizes; groups by constructor name (objects) or node type. */
export function summariseSnapshot(text: string, top: number): HeapSummary {
  const snap = JSON.parse(text) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, number>();
  let bytes = 0;
  let codeBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const size = snap.nodes[i + sizeAt]!;
    bytes += size;
    const type = types[snap.nodes[i + typeAt]!] ?? "?";
    if (type === "code") codeBytes += size;
    const key =
      type === "object" || type === "closure" ? `${type}:${snap.strings[snap.nodes[i + nameAt]!]}` : type;
    groups.set(key, (groups.get(key) ?? 0) + size);
  }
  return { bytes, codeBytes, top: [...groups].sort((a, b) => b[1] - a[1]).slice(0, top) };
}
