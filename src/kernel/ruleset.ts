import { isIPv6 } from "node:net";
import { endpointOf } from "../core/member.js";
import { hashKey, hashKeyWithSeed } from "../data/balancer/hash.js";
import { MaglevTable } from "../data/balancer/maglev.js";

/**
 * What the kernel plane programs, as plain data: the TCP/UDP listeners that run in the kernel and
 * their pools, with each member's health. Built from the configuration and health by
 * kernel-data-plane.ts; everything here is pure.
 */
export interface KernelPlan {
  /** The table's name; the family is always `inet`. */
  readonly table: string;
  readonly listeners: readonly KernelListener[];
  readonly pools: readonly KernelPool[];
}

export interface KernelListener {
  readonly name: string;
  readonly protocol: "TCP" | "UDP";
  /**
   * An IPv4 or IPv6 address, or 0.0.0.0 for every local IPv4 address. Its pool's members are of the
   * same family (which-plane.ts keeps other listeners in userspace): NAT does not translate families.
   */
  readonly address: string;
  readonly port: number;
  readonly pool: string;
  /** No source NAT towards members: they see the client's address. */
  readonly preserveClientIp: boolean;
}

export interface KernelPool {
  readonly name: string;
  readonly algorithm: "ROUND_ROBIN" | "SOURCE_IP";
  /** SOURCE_IP persistence (ROUND_ROBIN only): idle time after which a binding lapses. */
  readonly persistenceTimeoutMs?: number;
  /** Bound of each member's binding set. */
  readonly maxBindings?: number;
  readonly members: readonly KernelMember[];
}

export interface KernelMember {
  /** IPv4 or IPv6; every member of a pool is of one family. */
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly healthy: boolean;
  readonly draining: boolean;
}

/** One member's binding set: the client addresses bound to it (SOURCE_IP persistence). */
export interface BindingSet {
  readonly set: string;
  readonly pool: string;
  /** `ADDRESS:PORT`, IPv6 addresses in brackets. */
  readonly member: string;
  /** The family of the client addresses it holds (the family of the member). */
  readonly family: Family;
  /** Whether the member may keep its clients now (healthy, weight > 0); false: the set is emptied. */
  readonly keepsBindings: boolean;
}

/** A rendered table: the declaration text plus the names the applier and the reader need. */
export interface RenderedRuleset {
  readonly table: string;
  /** `table inet NAME { … }`: every set, counter and chain. */
  readonly block: string;
  readonly chains: readonly string[];
  readonly counters: ReadonlyMap<string, string>;
  readonly bindingSets: readonly BindingSet[];
}

/** Kernel Maglev tables keep at least this many entries per member (balance ≤ 1.01 × mean). */
const KERNEL_ENTRIES_PER_MEMBER = 100;
/** Prime sizes for the kernel map: small pools get small maps, so a transaction stays small. */
const KERNEL_TABLE_SIZES: readonly number[] = [1_021, 2_039, 4_093, 8_191, 16_381, 32_749, 65_537];
/** Past this total weight new clients are spread by random ranges instead of an interleaved sequence. */
const MAX_SEQUENCE = 4_096;
/** Default bound of a binding set when the pool gives none. */
const DEFAULT_SET_SIZE = 1_000_000;

/**
 * A fixed jhash seed. Without one the kernel draws a random seed each time the rule is created,
 * and every transaction would re-shuffle every SOURCE_IP client.
 */
const JHASH_SEED = "0x5eed1e55";

/** The Maglev table size used in the kernel map for `memberCount` members. */
export function kernelMaglevSize(memberCount: number): number {
  for (const size of KERNEL_TABLE_SIZES) if (size >= memberCount * KERNEL_ENTRIES_PER_MEMBER) return size;
  throw new RangeError(`the kernel plane takes at most 655 SOURCE_IP members per pool, not ${memberCount}`);
}

/** A short nft identifier derived from identity (pool, member, settings), never from position. */
export function nftName(prefix: string, ...parts: readonly (string | number)[]): string {
  const text = parts.join("\n");
  const hi = hashKey(text).toString(16).padStart(8, "0");
  const lo = hashKeyWithSeed(text, 0x6e667400).toString(16).padStart(8, "0");
  return `${prefix}_${hi}${lo}`;
}

/** nft's name for an address family inside an `inet` table: `ip` (IPv4) or `ip6`. */
export type Family = "ip" | "ip6";

export const familyOf = (address: string): Family => (isIPv6(address) ? "ip6" : "ip");

/** `ADDRESS:PORT`, IPv6 addresses in brackets: the member's identity, and nft's syntax for a DNAT target. */
export const endpoint = (m: { address: string; port: number }): string => endpointOf(m.address, m.port);

/** The family of a pool's members (IPv4 when it has none: then nothing is DNATed anyway). */
const poolFamily = (pool: KernelPool): Family =>
  pool.members[0] === undefined ? "ip" : familyOf(pool.members[0].address);
const keepsBindings = (m: KernelMember): boolean => m.healthy && m.weight > 0;
const takesNewClients = (m: KernelMember): boolean => keepsBindings(m) && !m.draining;
const byEndpoint = (a: KernelMember, b: KernelMember): number =>
  endpoint(a) < endpoint(b) ? -1 : endpoint(a) > endpoint(b) ? 1 : 0;

/**
 * Renders the whole table for a plan. Pure: the same plan gives the same text.
 *
 * Per listener, a rule in the `prerouting` (clients of other hosts) and `output` (clients on this
 * host) NAT chains matches its address and port, counts the new connection or flow in the
 * listener's named counter (NAT chains see only the first packet of each conntrack entry) and jumps
 * to its pool's chain, which DNATs to a member:
 *
 * - `SOURCE_IP`: a Maglev table over the eligible members (see docs/consistent-hashing.md), as an
 *   anonymous map indexed by `jhash ip saddr mod M` (`ip6 saddr` for an IPv6 pool).
 * - `ROUND_ROBIN`: the smooth weighted round-robin sequence of the eligible members as a verdict
 *   map indexed by `numgen inc`; with SOURCE_IP persistence, a client address found in a member's
 *   binding set goes to that member first, and every placement refreshes the set's timeout.
 *   Draining members keep their set check but get no new clients.
 *
 * Persistence bindings are refreshed by every packet from the client of an open connection or flow
 * (the `refresh_in` and `refresh_out` chains, after DNAT), not only by new connections.
 *
 * When no member takes the client the packet is left alone: nothing listens on the address, so
 * the kernel answers TCP with a reset and UDP with port unreachable. Masquerading in `postrouting`
 * makes members see the load balancer's address, with fully random source ports so a member's
 * TIME_WAIT sockets never meet a reused tuple; `preserveClientIp` listeners skip it.
 *
 * IPv4 and IPv6 share the `inet` table: each rule names its family (`ip`/`ip6` matches, `dnat ip
 * to`/`dnat ip6 to`, `ipv4_addr`/`ipv6_addr` sets), so a rule never applies to the other family.
 */
export function renderRuleset(plan: KernelPlan): RenderedRuleset {
  const chains: string[] = [];
  const counters = new Map<string, string>();
  const bindingSets: BindingSet[] = [];
  const sets: string[] = [];
  const bodies: string[] = [];
  const poolChains = new Map<string, string>();
  const refreshRules: string[] = [];
  /** Per pool with persistence: the members that keep bindings and their sets, for refresh rules. */
  const refreshTargets = new Map<string, { member: KernelMember; set: string }[]>();

  const usedPools = new Set(plan.listeners.map((l) => l.pool));
  for (const pool of plan.pools) {
    if (!usedPools.has(pool.name)) continue;
    const poolChain = nftName("p", pool.name);
    poolChains.set(pool.name, poolChain);
    const members = [...pool.members].sort(byEndpoint);
    const fam = poolFamily(pool);
    const rules: string[] = [];
    if (pool.algorithm === "SOURCE_IP") {
      const eligible = members.filter(takesNewClients);
      if (eligible.length > 0) {
        const table = new MaglevTable(eligible.map(endpoint), kernelMaglevSize(eligible.length));
        const byIdentity = new Map(eligible.map((m) => [endpoint(m), m]));
        // A map's data is the concatenation `address . port` (no brackets, in either family).
        const targets = table.endpoints.map((e) => {
          const m = byIdentity.get(e)!;
          return `${m.address} . ${m.port}`;
        });
        const entries: string[] = [];
        for (let i = 0; i < table.size; i++) entries.push(`${i} : ${targets[table.entryAt(i)]}`);
        rules.push(
          `meta l4proto { tcp, udp } dnat ${fam} to jhash ${fam} saddr mod ${table.size} seed ${JHASH_SEED} map { ${entries.join(", ")} }`,
        );
      }
    } else {
      const persistence = pool.persistenceTimeoutMs;
      const memberChain = new Map<string, string>();
      for (const m of members) {
        if (!keepsBindings(m)) {
          if (persistence !== undefined) bindingSets.push(bindingSet(pool, m, false));
          continue;
        }
        const chain = nftName("m", pool.name, endpoint(m));
        memberChain.set(endpoint(m), chain);
        const lines: string[] = [];
        if (persistence !== undefined) {
          const set = bindingSet(pool, m, true);
          bindingSets.push(set);
          rules.push(`${fam} saddr @${set.set} jump ${chain}`);
          lines.push(`update @${set.set} { ${fam} saddr }`);
          const targets = refreshTargets.get(pool.name) ?? [];
          targets.push({ member: m, set: set.set });
          refreshTargets.set(pool.name, targets);
        }
        lines.push(`meta l4proto { tcp, udp } dnat ${fam} to ${endpoint(m)}`);
        chains.push(chain);
        bodies.push(chainBlock(chain, undefined, lines));
      }
      const spread = weightedSpread(members.filter(takesNewClients), memberChain);
      if (spread !== undefined) rules.push(spread);
    }
    chains.push(poolChain);
    bodies.push(chainBlock(poolChain, undefined, rules));
  }
  for (const set of bindingSets) {
    const pool = plan.pools.find((p) => p.name === set.pool)!;
    sets.push(
      `  set ${set.set} {\n    type ${set.family === "ip6" ? "ipv6_addr" : "ipv4_addr"}\n    flags dynamic,timeout\n    timeout ${seconds(pool.persistenceTimeoutMs!)}\n    size ${pool.maxBindings ?? DEFAULT_SET_SIZE}\n  }`,
    );
  }

  const entryRules: string[] = [];
  const snatRules: string[] = [];
  for (const listener of plan.listeners) {
    const poolChain = poolChains.get(listener.pool);
    if (poolChain === undefined) continue;
    const counter = nftName("c", listener.name);
    counters.set(listener.name, counter);
    const proto = listener.protocol === "TCP" ? "tcp" : "udp";
    const any = listener.address === "0.0.0.0";
    const fam = familyOf(listener.address);
    // 0.0.0.0 is every local IPv4 address, as for a socket: IPv6 packets to the port are not its.
    const destination = any ? "meta nfproto ipv4 fib daddr type local" : `${fam} daddr ${listener.address}`;
    entryRules.push(
      `${destination} ${proto} dport ${listener.port} counter name ${counter} jump ${poolChain}`,
    );
    // Only this listener's connections refresh this pool's sets (a member may serve other pools too).
    const original = any ? "" : ` ct original ${fam} daddr ${listener.address}`;
    const viaListener = `ct direction original ct status dnat meta l4proto ${proto}${original} ct original proto-dst ${listener.port}`;
    for (const { member, set } of refreshTargets.get(listener.pool) ?? [])
      refreshRules.push(
        `${viaListener} ${fam} daddr ${member.address} th dport ${member.port} update @${set} { ${fam} saddr }`,
      );
    if (!listener.preserveClientIp) {
      snatRules.push(
        `${any ? "meta nfproto ipv4 " : ""}ct status dnat meta l4proto ${proto}${original} ct original proto-dst ${listener.port} masquerade fully-random`,
      );
    }
  }
  chains.push("prerouting", "output", "postrouting", "refresh_in", "refresh_out");
  bodies.push(
    chainBlock("prerouting", "type nat hook prerouting priority dstnat; policy accept;", entryRules),
    chainBlock("output", "type nat hook output priority -100; policy accept;", entryRules),
    chainBlock("postrouting", "type nat hook postrouting priority srcnat; policy accept;", snatRules),
    // After DNAT (filter priority): every packet of an open connection or flow refreshes its
    // client's binding, so an open connection counts as traffic until it closes.
    chainBlock("refresh_in", "type filter hook prerouting priority filter; policy accept;", refreshRules),
    chainBlock("refresh_out", "type filter hook output priority filter; policy accept;", refreshRules),
  );
  const counterBlocks = [...counters.values()].map((c) => `  counter ${c} {\n  }`);
  const block = `table inet ${plan.table} {\n${[...counterBlocks, ...sets, ...bodies].join("\n")}\n}\n`;
  return { table: plan.table, block, chains, counters, bindingSets };
}

/**
 * The transaction for `nft -f -` that moves the kernel from `previous` to `next` atomically.
 *
 * At start (no previous): `table …; delete table …; table … { … }` creates the table, or replaces
 * a stale one left by a stickylb that died, in one step. Afterwards: `flush table` empties every
 * chain but keeps sets and their elements (the bindings) and counters; objects that are gone are
 * deleted, and the sets of members that may no longer keep their clients are emptied.
 */
export function transactionText(next: RenderedRuleset, previous: RenderedRuleset | undefined): string {
  const t = `inet ${next.table}`;
  if (previous === undefined || previous.table !== next.table)
    return `table ${t}\ndelete table ${t}\n${next.block}`;
  const lines = [`add table ${t}`, `flush table ${t}`];
  const nextChains = new Set(next.chains);
  for (const chain of previous.chains) if (!nextChains.has(chain)) lines.push(`delete chain ${t} ${chain}`);
  const nextSets = new Set(next.bindingSets.map((s) => s.set));
  for (const s of previous.bindingSets) if (!nextSets.has(s.set)) lines.push(`delete set ${t} ${s.set}`);
  const nextCounters = new Set(next.counters.values());
  for (const c of previous.counters.values())
    if (!nextCounters.has(c)) lines.push(`delete counter ${t} ${c}`);
  const previousSets = new Set(previous.bindingSets.map((s) => s.set));
  for (const s of next.bindingSets)
    if (!s.keepsBindings && previousSets.has(s.set)) lines.push(`flush set ${t} ${s.set}`);
  return `${lines.join("\n")}\n${next.block}`;
}

function bindingSet(pool: KernelPool, m: KernelMember, keeps: boolean): BindingSet {
  return {
    set: nftName("b", pool.name, endpoint(m), pool.persistenceTimeoutMs ?? 0),
    pool: pool.name,
    member: endpoint(m),
    family: familyOf(m.address),
    keepsBindings: keeps,
  };
}

function chainBlock(name: string, header: string | undefined, rules: readonly string[]): string {
  const lines = [`  chain ${name} {`];
  if (header !== undefined) lines.push(`    ${header}`);
  for (const rule of rules) lines.push(`    ${rule}`);
  lines.push("  }");
  return lines.join("\n");
}

/**
 * The rule that places a new client by weight: the smooth weighted round-robin order (each member
 * weight/total of new clients, interleaved, not in bursts) as a `numgen inc` verdict map; past
 * {@link MAX_SEQUENCE} entries, `numgen random` over one range per member.
 */
function weightedSpread(
  eligible: readonly KernelMember[],
  chains: ReadonlyMap<string, string>,
): string | undefined {
  if (eligible.length === 0) return undefined;
  const divisor = eligible.reduce((g, m) => gcd(g, m.weight), 0);
  const weights = eligible.map((m) => m.weight / divisor);
  const total = weights.reduce((a, b) => a + b, 0);
  const target = (i: number) => `jump ${chains.get(endpoint(eligible[i]!))}`;
  if (total <= MAX_SEQUENCE) {
    const entries = smoothSequence(weights).map((member, slot) => `${slot} : ${target(member)}`);
    return `numgen inc mod ${total} vmap { ${entries.join(", ")} }`;
  }
  let start = 0;
  const ranges = weights.map((w, i) => {
    const range = w === 1 ? `${start}` : `${start}-${start + w - 1}`;
    start += w;
    return `${range} : ${target(i)}`;
  });
  return `numgen random mod ${total} vmap { ${ranges.join(", ")} }`;
}

/** Smooth weighted round robin (nginx's algorithm): the member index picked at each step of one cycle. */
export function smoothSequence(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const order: number[] = [];
  for (let step = 0; step < total; step++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    order.push(best);
  }
  return order;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}
