/**
 * wrk as the load generator of a bench: one run, its requests per second and its latency
 * percentiles (`--latency`), and Lua scripts that give every request a cookie of its own.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WrkFigures {
  readonly rps: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** Socket errors and non-2xx/3xx answers together. */
  readonly errors: number;
}

export interface WrkRun {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly script?: string;
  /** Arguments given to the script's `init`. */
  readonly scriptArgs?: readonly string[];
}

export async function wrk(options: WrkRun): Promise<WrkFigures> {
  const args = ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  if (options.script !== undefined) args.push("-s", options.script);
  args.push(options.url);
  if (options.scriptArgs !== undefined) args.push("--", ...options.scriptArgs);
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  return parseWrk(stdout);
}

/** Reads wrk's text report (with `--latency`). */
export function parseWrk(text: string): WrkFigures {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const percentile = (p: number) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
    if (m === null) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (socket !== null) errors += socket.slice(1).reduce((a, b) => a + Number(b), 0);
  errors += Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return { rps, p50: percentile(50), p90: percentile(90), p99: percentile(99), errors };
}

/**
 * Writes the Lua script of sessions: each request carries `JSESSIONID=PREFIX-i`, with i going
 * round `count` values (`count` 0: never repeating, every request a new session). Its arguments:
 * PREFIX and, optionally, count.
 */
export function writeSessionScript(dir: string): string {
  const file = join(dir, "sessions.lua");
  writeFileSync(
    file,
    `local n = 0
local prefix = "s"
local count = 0
function init(args)
  prefix = args[1] or prefix
  count = tonumber(args[2] or "0")
end
request = function()
  n = n + 1
  local i = n
  if count > 0 then i = n % count end
  return wrk.format("GET", "/", { ["Cookie"] = "JSESSIONID=" .. prefix .. "-" .. i })
end
`,
  );
  return file;
}
