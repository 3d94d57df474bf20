/**
 * Consistent-hash micro benchmark for SOURCE_IP: lookups per second and table build time for 10
 * and 1,000 members, for the production design (rendezvous) and the measured alternatives (a
 * virtual-node ring at two sizes). Also prints balance and disruption so speed is never read
 * without quality. Run with `npm run bench:hash`; docs/consistent-hashing.md records the results.
 */
import { performance } from "node:perf_hooks";
import type { Candidate } from "../src/core/member.js";
import { ConsistentHashPolicy } from "../src/data/balancer/consistent-hash.js";
import type { BalancingPolicy } from "../src/data/balancer/policy.js";
import { HashRingPolicy } from "./hash-ring.js";

interface Design {
  readonly name: string;
  readonly make: () => BalancingPolicy;
}

const DESIGNS: readonly Design[] = [
  { name: "rendezvous (chosen)", make: () => new ConsistentHashPolicy() },
  { name: "ring 160 vnodes", make: () => new HashRingPolicy(160) },
  { name: "ring 1000 vnodes", make: () => new HashRingPolicy(1000) },
];

const SIZES = [10, 1000] as const;
const CLIENTS = 100_000;
const LOOKUP_BUDGET_MS = 400;

function members(count: number): Candidate[] {
  return Array.from({ length: count }, (_, i) => {
    const endpoint = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}:8080`;
    return { id: `bench/${endpoint}`, endpoint, weight: 1, eligible: true, active: 0 };
  });
}

/** Deterministic client addresses (mulberry32), half IPv4 and half IPv6. */
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
    i % 2 === 0
      ? `${next(8)}.${next(8)}.${next(8)}.${next(8)}`
      : `2001:db8:${next(16).toString(16)}:${next(16).toString(16)}::${next(16).toString(16)}`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? 0;
}

/** Time from a fresh policy to its first answer: hashing endpoints (rendezvous) or building the ring. */
function buildMs(design: Design, candidates: readonly Candidate[]): number {
  const runs = candidates.length >= 1000 ? 7 : 201;
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const fresh = candidates.map((c) => ({ ...c }));
    const start = performance.now();
    design.make().pick(fresh, { clientIp: "192.0.2.1" });
    times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Lookups per second over a warmed policy. `alternate` passes two equal arrays in turn, so a policy
 * that caches by array identity has to re-check the member set on every pick.
 */
function lookupsPerSecond(
  design: Design,
  candidates: readonly Candidate[],
  ips: readonly string[],
  alternate: boolean,
): number {
  const policy = design.make();
  const other = [...candidates];
  let sink = 0;
  const run = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const set = alternate && (i & 1) === 1 ? other : candidates;
      if (policy.pick(set, { clientIp: ips[i % ips.length]! }) !== undefined) sink++;
    }
  };
  run(20_000);
  let count = 1000;
  let elapsed = 0;
  while (elapsed < LOOKUP_BUDGET_MS) {
    count *= 2;
    const start = performance.now();
    run(count);
    elapsed = performance.now() - start;
  }
  if (sink < 0) console.log(sink);
  return (count / elapsed) * 1000;
}

/** Busiest member's share ÷ the mean share, over all client addresses. */
function balance(design: Design, candidates: readonly Candidate[], ips: readonly string[]): number {
  const policy = design.make();
  const counts = new Map<string, number>();
  for (const clientIp of ips) {
    const endpoint = policy.pick(candidates, { clientIp })!.endpoint;
    counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
  }
  return Math.max(...counts.values()) / (ips.length / candidates.length);
}

/** Clients of members other than the one taken out that moved when it turned ineligible. */
function othersMoved(design: Design, candidates: readonly Candidate[], ips: readonly string[]): number {
  const policy = design.make();
  const before = ips.map((clientIp) => policy.pick(candidates, { clientIp })!.endpoint);
  const down = candidates[0]!;
  const without = candidates.map((c) => (c === down ? { ...c, eligible: false } : c));
  let moved = 0;
  ips.forEach((clientIp, i) => {
    const after = policy.pick(without, { clientIp })!.endpoint;
    if (before[i] !== down.endpoint && after !== before[i]) moved++;
  });
  return moved;
}

function format(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const ips = clientIps(CLIENTS);
console.log(`node ${process.version}, ${CLIENTS.toLocaleString("en-US")} client addresses\n`);
console.log(
  "| design | members | build (ms) | lookups/s, same array | lookups/s, set re-checked | busiest ÷ mean | others moved on 1 down |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const size of SIZES) {
  const candidates = members(size);
  for (const design of DESIGNS) {
    const row = [
      design.name,
      format(size),
      format(buildMs(design, candidates), 3),
      format(lookupsPerSecond(design, candidates, ips, false)),
      format(lookupsPerSecond(design, candidates, ips, true)),
      format(balance(design, candidates, ips), 3),
      format(othersMoved(design, candidates, ips)),
    ];
    console.log(`| ${row.join(" | ")} |`);
  }
}
