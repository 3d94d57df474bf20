import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The compiled entry point; `npm test` builds before running tests. */
export const STICKYLB_MAIN = resolve(import.meta.dirname, "../../dist/src/main.js");

export interface StickylbProcess {
  readonly child: ChildProcess;
  /** Everything written to standard output so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Resolves when a log line satisfies `predicate`, rejects after `timeoutMs`. */
  waitForLog(
    predicate: (entry: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Port of the admin listener (the process is started with `--admin 127.0.0.1:0`). */
  adminPort(): Promise<number>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited(): Promise<number | null>;
}

/** A fresh temporary folder for a test's configuration files and state. */
export function tempDir(prefix = "stickylb-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `content` to `name` in `dir` and returns the path. */
export function writeConfig(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/**
 * Starts the real `stickylb` process (`node dist/src/main.js ARGS`). Unless the arguments say
 * otherwise, the admin listener goes on port 0 and the state folder is a fresh temporary one.
 */
export function startStickylb(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  /** A command that execs the rest, e.g. `["prlimit", "--nofile=256:256", "--"]` for a small fd limit,
   * or `["ip", "netns", "exec", NS]` to start it inside a namespace. */
  prefix: readonly string[] = [],
): StickylbProcess {
  const extra: string[] = [];
  if (args[0] === "run" || args[0] === "demo") {
    if (!args.includes("--admin")) extra.push("--admin", "127.0.0.1:0");
    if (!args.includes("--state-dir")) extra.push("--state-dir", tempDir("stickylb-state-"));
    if (!args.includes("--log-level")) extra.push("--log-level", "debug");
  }
  const argv = [...prefix, process.execPath, STICKYLB_MAIN, ...args, ...extra];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters: {
    predicate: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }[] = [];
  const entries: Record<string, unknown>[] = [];
  let partial = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl = partial.indexOf("\n");
    while (nl >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf("\n");
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { msg: line };
      }
      entries.push(entry);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.predicate(entry)) {
          waiters.splice(i, 1);
          w.resolve(entry);
        }
      }
    }
  });
  child.stderr?.on("data", (chunk: string) => {
    err += chunk;
  });
  const exit = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  const waitForLog = (predicate: (e: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolveLog, reject) => {
      const found = entries.find(predicate);
      if (found !== undefined) {
        resolveLog(found);
        return;
      }
      const timer = setTimeout(
        () => reject(new Error(`log line not seen within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)),
        timeoutMs,
      );
      waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolveLog(e);
        },
      });
      void exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`stickylb exited (${code}) before the log line; stdout:\n${out}\nstderr:\n${err}`));
      });
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForLog,
    adminPort: async () => {
      const entry = await waitForLog((e) => e.msg === "admin listener bound");
      return entry.port as number;
    },
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
    exited: () => exit,
  };
}

/** Starts `stickylb run -f FILE…` and waits until it logs that it started (every listener bound). */
export async function runStickylb(
  files: string[],
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  prefix: readonly string[] = [],
) {
  const proc = startStickylb(["run", ...files.flatMap((f) => ["-f", f]), ...extraArgs], env, prefix);
  await proc.waitForLog((e) => e.msg === "stickylb started", 15_000);
  return proc;
}

/** The `members:` entries of a pool in a native YAML document, indented for `spec.pools[i]`. */
export function membersYaml(members: readonly { address: string; port: number }[]): string {
  return members.map((m) => `        - {address: ${m.address}, port: ${m.port}}`).join("\n");
}

/** Writes one configuration document to a fresh folder and runs it (`runStickylb`). */
export async function runStickylbYaml(
  yaml: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<StickylbProcess> {
  return runStickylb([writeConfig(tempDir(), "lb.yaml", yaml)], extraArgs, env);
}
