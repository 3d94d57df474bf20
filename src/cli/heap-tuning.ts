/**
 * A larger young generation for the forwarding path. Every request allocates a few kilobytes that
 * die young (parsed heads, strings, write requests); with V8's default semi-space the scavenger
 * runs about twenty times a second under load, and those pauses are most of stickylb's p99
 * latency. Measured with `wrk -c64` through an HTTP_COOKIE listener (docs/performance.md): p99
 * 8–9 ms with the default, 5–6 ms with 32 MiB, same throughput.
 *
 * Imported first by `main.ts`, so the flag is set before the data path allocates. An operator's
 * own `--max-semi-space-size` (command line or NODE_OPTIONS) wins.
 */
import v8 from "node:v8";

export const SEMI_SPACE_MIB = 32;

const chosen =
  process.execArgv.some((a) => a.startsWith("--max-semi-space-size")) ||
  (process.env.NODE_OPTIONS ?? "").includes("--max-semi-space-size");
if (!chosen) v8.setFlagsFromString(`--max-semi-space-size=${SEMI_SPACE_MIB}`);
