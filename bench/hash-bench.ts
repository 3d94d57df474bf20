/**
 * Maglev micro benchmark for SOURCE_IP: per pool size, the table's size and build time, lookups per
 * second (a table lookup; a policy pick that re-checks the eligible set; a policy pick trusting the
 * member registry's eligibility version, as pools do) per second of this process's CPU time — on a
 * machine shared with other jobs, wall-clock rates swing up to 3 × with the others' load, CPU time
 * far less; the table lookup is also given per wall-clock second — the busiest
 * member's entries ÷ the mean, and the fraction of other members' clients moved when one member
 * leaves. Quality is printed beside speed so neither is read alone. Run with `npm run bench:hash`;
 * docs/consistent-hashing.md records the results.
 */
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { Candidate } from "../src/core/member.js";
import { MaglevPolicy, MaglevTable } from "../src/data/balancer/maglev.js";

const SIZES = [10, 100, 1000] as const;
const CLIENTS = 100_000;
const LOOKUP_BUDGET_MS = 400;

function members(count: number): Candidate[] {
  return Array.from({ length: count }, (_, i) => {
    const endpoint = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}:8080`;
    return { id: `bench/${endpoint}`, endpoint, weight: 1, eligible: true, active: 0 };
  });
}

/**
 * A flat copy of `text`. Addresses built by template literals are V8 cons strings, read through an
 * indirection per character; the addresses a proxy hashes come from sockets as flat strings.
 */
function flat(text: string): string {
  return Buffer.from(text, "latin1").toString("latin1");
}

/** Deterministic client addresses (mulberry32), half IPv4 and half IPv6, as flat strings. */
function clientIps(count: number): string[] {
  let state = 0x2545f491;
  const next = (bits: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % 2 ** bits;
  };
  return Array.from({ length: count }, (_, i) =>
    flat(
      i % 2 === 0
        ? `${next(8)}.${next(8)}.${next(8)}.${next(8)}`
        : `2001:db8:${next(16).toString(16)}:${next(16).toString(16)}::${next(16).toString(16)}`,
    ),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? 0;
}

function buildMs(endpoints: readonly string[]): number {
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    new MaglevTable(endpoints);
    times.push(performance.now() - start);
  }
  return median(times);
}

/** CPU seconds (user + system) this process has used so far. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

interface Rate {
  /** Calls per second of this process's CPU time. */
  readonly perCpuSecond: number;
  /** Calls per wall-clock second. */
  readonly perWallSecond: number;
}

/**
 * Calls `step(i)` in doubling batches until one batch takes the budget, five times; returns the
 * median rates per CPU second and per wall-clock second.
 */
function rate(step: (i: number) => boolean): Rate {
  let sink = 0;
  for (let i = 0; i < 50_000; i++) if (step(i)) sink++;
  let count = 10_000;
  let elapsed = 0;
  while (elapsed < LOOKUP_BUDGET_MS / 5) {
    count *= 2;
    const start = performance.now();
    for (let i = 0; i < count; i++) if (step(i)) sink++;
    elapsed = performance.now() - start;
  }
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < 5; r++) {
    const cpuStart = cpuSeconds();
    const start = performance.now();
    for (let i = 0; i < count; i++) if (step(i)) sink++;
    wall.push((count / (performance.now() - start)) * 1000);
    cpu.push(count / (cpuSeconds() - cpuStart));
  }
  if (sink < 0) console.log(sink);
  return { perCpuSecond: median(cpu), perWallSecond: median(wall) };
}

function format(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const ips = clientIps(CLIENTS);
const mask = 65_535; // 65,536 of the addresses, indexed without a modulo
console.log(
  `node ${process.version}, ${CLIENTS.toLocaleString("en-US")} client addresses, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}; rates per CPU second unless marked\n`,
);
console.log(
  "| members | table size | build (ms) | table lookups/s | table lookups/s (wall clock) | picks/s, set re-checked | picks/s, registry version | busiest ÷ mean (entries) | others moved on 1 leaving |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const size of SIZES) {
  const candidates = members(size);
  const endpoints = candidates.map((c) => c.endpoint);
  const table = new MaglevTable(endpoints);
  const policy = new MaglevPolicy();
  const lookups = rate((i) => table.lookup(ips[i & mask]!) !== undefined);
  const picks = rate((i) => policy.pick(candidates, { clientIp: ips[i & mask]! }) !== undefined);
  const versioned = new MaglevPolicy();
  const versionedPicks = rate(
    (i) => versioned.pick(candidates, { clientIp: ips[i & mask]!, eligibilityVersion: 1 }) !== undefined,
  );
  const counts = table.entryCounts();
  const busiest = Math.max(...counts) / (table.size / size);
  const gone = endpoints[0]!;
  const without = new MaglevTable(endpoints.slice(1));
  let others = 0;
  let moved = 0;
  for (const ip of ips) {
    const before = table.lookup(ip);
    if (before === gone) continue;
    others++;
    if (without.lookup(ip) !== before) moved++;
  }
  const row = [
    format(size),
    format(table.size),
    format(buildMs(endpoints), 2),
    format(lookups.perCpuSecond),
    format(lookups.perWallSecond),
    format(picks.perCpuSecond),
    format(versionedPicks.perCpuSecond),
    format(busiest, 3),
    `${format((100 * moved) / others, 2)} %`,
  ];
  console.log(`| ${row.join(" | ")} |`);
}
