import type { Candidate } from "../../core/member.js";
import type { Algorithm } from "../../core/model.js";
import { takesNewClients } from "./eligibility.js";
import { hashKey, hashKeyWithSeed } from "./hash.js";
import type { BalancingPolicy, PickContext } from "./policy.js";

/**
 * Table sizes: primes, so every skip in 1..M-1 walks the whole table (Maglev's permutation needs M
 * prime). 65,537 is the paper's default; the larger ones keep at least {@link MIN_ENTRIES_PER_MEMBER}
 * entries per member for big pools.
 */
const TABLE_SIZES: readonly number[] = [65_537, 131_071, 262_139, 524_287, 1_048_573, 2_097_143, 4_194_301];
const LARGEST_TABLE = 4_194_301;

/**
 * Maglev fills the table round-robin, so every member owns ⌊M/N⌋ or ⌈M/N⌉ entries: with at least
 * 100 entries per member the busiest owns at most 1.01 × the mean, and the entries a rebuild
 * hands to other members when one leaves stay well under 1 % (docs/consistent-hashing.md).
 */
export const MIN_ENTRIES_PER_MEMBER = 100;

/** The most members one table takes: the largest size at {@link MIN_ENTRIES_PER_MEMBER} each. */
export const MAX_MAGLEV_MEMBERS = Math.floor(LARGEST_TABLE / MIN_ENTRIES_PER_MEMBER);

/** The seed of the second, independent hash that gives each member its skip. */
const SKIP_SEED = 0x2545f491;

/** The prime table size for `memberCount` members: the smallest listed size with enough entries each. */
export function maglevTableSize(memberCount: number): number {
  for (const size of TABLE_SIZES) if (size >= memberCount * MIN_ENTRIES_PER_MEMBER) return size;
  throw new RangeError(`a Maglev table takes at most ${MAX_MAGLEV_MEMBERS} members, not ${memberCount}`);
}

/**
 * MaglevTable is the lookup table of Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4): an array of M entries, each the index
 * of one member in {@link endpoints}. It is immutable: a change of the member set builds a new one.
 *
 * Members are identified by their `ADDRESS:PORT` endpoint, never by list position: endpoints are
 * sorted before the table is filled, so the same set gives the same table in any order, in any
 * process. Each member's preference list is the permutation `(offset + j × skip) mod M` with
 * `offset` and `skip` from two independent hashes of its endpoint; members take turns claiming
 * their next free preferred entry until the table is full.
 */
export class MaglevTable {
  /** The members, sorted and without duplicates; entries hold indexes into this list. */
  readonly endpoints: readonly string[];
  /** M, a prime. */
  readonly size: number;
  private readonly entries: Uint16Array | Uint32Array;

  constructor(endpoints: readonly string[], size = maglevTableSize(new Set(endpoints).size)) {
    const sorted = [...new Set(endpoints)].sort();
    if (sorted.length > 0 && size < sorted.length)
      throw new RangeError(`a Maglev table of ${size} entries cannot hold ${sorted.length} members`);
    this.endpoints = sorted;
    this.size = size;
    this.entries = sorted.length <= 0xffff ? new Uint16Array(size) : new Uint32Array(size);
    if (sorted.length > 0) this.populate(sorted);
  }

  /** The member index for a 32-bit key hash (for callers that hash once and look up in many tables). */
  indexOf(keyHash: number): number {
    return this.entries[keyHash % this.size]!;
  }

  /** The endpoint that owns a client IP, or undefined when the table has no members. */
  lookup(clientIp: string): string | undefined {
    if (this.endpoints.length === 0) return undefined;
    return this.endpoints[this.indexOf(hashKey(clientIp))];
  }

  /** How many entries each member owns, in {@link endpoints} order (balance checks, the kernel map). */
  entryCounts(): number[] {
    const counts = new Array<number>(this.endpoints.length).fill(0);
    for (const index of this.entries) counts[index]!++;
    return counts;
  }

  /** Entry i's member index, for i in 0..size-1 (the kernel plane installs the table as a map). */
  entryAt(i: number): number {
    return this.entries[i]!;
  }

  private populate(sorted: readonly string[]): void {
    const m = this.size;
    const n = sorted.length;
    const position = new Float64Array(n);
    const skip = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const endpoint = sorted[i]!;
      position[i] = hashKey(endpoint) % m;
      skip[i] = (hashKeyWithSeed(endpoint, SKIP_SEED) % (m - 1)) + 1;
    }
    const taken = new Uint8Array(m);
    let filled = 0;
    while (filled < m) {
      for (let i = 0; i < n && filled < m; i++) {
        let at = position[i]!;
        // A permutation of 0..M-1 (M prime, 0 < skip < M), so a free entry is always found.
        while (taken[at] === 1) at = (at + skip[i]!) % m;
        taken[at] = 1;
        this.entries[at] = i;
        position[i] = (at + skip[i]!) % m;
        filled++;
      }
    }
  }
}

/** Tables kept for recent eligible sets, so a member that flaps down and up does not rebuild twice. */
const CACHED_TABLES = 4;

/**
 * MaglevPolicy is the `SOURCE_IP` algorithm: a {@link MaglevTable} over the members that may take
 * new clients (weights ignored, except that weight 0 excludes). The table depends only on the set of
 * eligible endpoints; it is rebuilt when that set changes and kept in a small cache keyed by the set.
 *
 * Per pick the policy confirms that the eligible set is unchanged, then does one hash and one table
 * read. The confirmation is O(1) when the caller passes the same candidates array with an unchanged
 * `eligibilityVersion` (the member registry bumps it on every health change and reload); otherwise
 * it is a pass over the candidates comparing identity and eligibility with the last pick. docs/consistent-hashing.md has the measurements.
 */
export class MaglevPolicy implements BalancingPolicy {
  readonly algorithm: Algorithm = "SOURCE_IP";
  private readonly tables = new Map<string, MaglevTable>();
  private table: MaglevTable | undefined;
  /** Candidate objects per table index (among duplicate endpoints, the smaller id). */
  private slots: Candidate[] = [];
  private lastCandidates: readonly Candidate[] = [];
  private lastObjects: Candidate[] = [];
  private lastEligible = new Uint8Array(0);
  private lastVersion: number | undefined;

  pick<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    const version = ctx.eligibilityVersion;
    if (version === undefined || version !== this.lastVersion || candidates !== this.lastCandidates) {
      if (!this.sameAsLast(candidates)) this.sync(candidates);
      this.lastVersion = version;
    }
    const table = this.table;
    if (table === undefined) return undefined;
    // Slots are filled only from the current `candidates: C[]` (see sync).
    return this.slots[table.indexOf(hashKey(ctx.clientIp))] as C;
  }

  /**
   * A pick changes nothing a client could see (the table cache only follows the eligible set), so
   * the explain query's read-only pick is the pick itself.
   */
  peek<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    return this.pick(candidates, ctx);
  }

  /** True when these are the last pick's candidates with unchanged eligibility. */
  private sameAsLast(candidates: readonly Candidate[]): boolean {
    const n = candidates.length;
    if (n !== this.lastObjects.length) return false;
    const identical = candidates === this.lastCandidates;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      if (!identical && c !== this.lastObjects[i]) return false;
      if ((takesNewClients(c) ? 1 : 0) !== this.lastEligible[i]) return false;
    }
    return true;
  }

  private sync(candidates: readonly Candidate[]): void {
    this.lastCandidates = candidates;
    this.lastObjects = [...candidates];
    this.lastEligible = new Uint8Array(candidates.length);
    const byEndpoint = new Map<string, Candidate>();
    candidates.forEach((c, i) => {
      if (!takesNewClients(c)) return;
      this.lastEligible[i] = 1;
      const other = byEndpoint.get(c.endpoint);
      if (other === undefined || c.id < other.id) byEndpoint.set(c.endpoint, c);
    });
    if (byEndpoint.size === 0) {
      this.table = undefined;
      this.slots = [];
      return;
    }
    const endpoints = [...byEndpoint.keys()].sort();
    const key = endpoints.join("\n");
    let table = this.tables.get(key);
    if (table === undefined) {
      table = new MaglevTable(endpoints);
      if (this.tables.size >= CACHED_TABLES) this.tables.delete(this.tables.keys().next().value!);
    } else {
      this.tables.delete(key);
    }
    this.tables.set(key, table);
    this.table = table;
    this.slots = table.endpoints.map((e) => byEndpoint.get(e)!);
  }
}
