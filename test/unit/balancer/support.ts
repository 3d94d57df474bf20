import type { Candidate } from "../../../src/core/member.js";

/** A plain candidate for policy tests: id `pool/ENDPOINT`, eligible, weight 1, no connections. */
export function candidate(endpoint: string, fields: Partial<Omit<Candidate, "endpoint">> = {}): Candidate {
  return { id: `pool/${endpoint}`, endpoint, weight: 1, eligible: true, active: 0, ...fields };
}

/** `count` candidates `10.0.0.1:8080`, `10.0.0.2:8080`, … */
export function members(count: number): Candidate[] {
  return Array.from({ length: count }, (_, i) => candidate(`10.0.${i >> 8}.${(i & 255) + 1}:8080`));
}

/**
 * mulberry32 (Tommy Ettinger's 32-bit PRNG): a seeded source so the 100,000-address properties
 * are the same on every run.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Half IPv4 dotted quads, half IPv6 in Node's lower-case compressed form (as `clientIpKey` gives). */
export function randomClientIps(count: number, seed: number): string[] {
  const next = seededRandom(seed);
  const word = (bits: number) => Math.floor(next() * 2 ** bits);
  const ips: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      ips.push(`${word(8)}.${word(8)}.${word(8)}.${word(8)}`);
    } else {
      // A /64 prefix from a handful of providers and a random interface id, like real clients.
      const prefix = ["2001:db8", "2a00:1450", "2600:1f18", "fd00:1"][word(2)];
      ips.push(
        `${prefix}:${word(16).toString(16)}:${word(16).toString(16)}::${word(16).toString(16)}:${word(16).toString(16)}`,
      );
    }
  }
  return ips;
}
