import { spawn, spawnSync } from "node:child_process";

/** What one `nft` run returned. `missing` is set when the program itself could not be started. */
export interface NftResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly missing?: boolean;
}

/** Runs `nft ARGS…` with optional standard input. Injected so tests can run it inside a namespace. */
export type NftRun = (args: readonly string[], stdin?: string) => Promise<NftResult>;

/** Output kept from one run: a set of a million bindings listed as JSON is about 60 MiB. */
const MAX_OUTPUT = 128 * 1024 * 1024;
const TIMEOUT_MS = 30_000;

/**
 * An {@link NftRun} that executes `command` (by default `["nft"]`; tests pass
 * `["ip", "netns", "exec", NS, "nft"]`), with a timeout and a bound on what it may print.
 */
export function nftCommand(command: readonly string[] = ["nft"]): NftRun {
  const [program, ...prefix] = command;
  if (program === undefined) throw new TypeError("an nft command needs a program");
  return (args, stdin) =>
    new Promise((resolve) => {
      const child = spawn(program, [...prefix, ...args], { stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      const keep = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_OUTPUT) into.push(chunk);
        else child.kill("SIGKILL");
      };
      child.stdout.on("data", keep(out));
      child.stderr.on("data", keep(err));
      const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
      let missing = false;
      child.on("error", (e: NodeJS.ErrnoException) => {
        missing = e.code === "ENOENT";
        err.push(Buffer.from(e.message));
      });
      child.stdin.on("error", () => {});
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({
          code: code ?? -1,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString().trim(),
          ...(missing ? { missing } : {}),
        });
      });
      child.stdin.end(stdin ?? "");
    });
}

/** Deletes a table synchronously: the last thing a dying process can still do (exit handlers). */
export function deleteTableSync(table: string, command: readonly string[] = ["nft"]): void {
  const [program, ...prefix] = command;
  if (program === undefined) return;
  spawnSync(program, [...prefix, "delete", "table", "inet", table], { stdio: "ignore", timeout: 5_000 });
}
