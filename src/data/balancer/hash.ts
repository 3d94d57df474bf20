/**
 * Small, well-known 32-bit hashes for the consistent hash. Plain TypeScript so that two stickylb
 * instances (and any other implementation) compute the same values without a native module.
 */

const FNV_OFFSET_BASIS_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

/**
 * FNV-1a, 32 bit (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/), over the string's
 * UTF-16 code units. Keys here are addresses and `ADDRESS:PORT` strings, i.e. ASCII.
 */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET_BASIS_32;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME_32);
  }
  return h >>> 0;
}

/**
 * MurmurHash3's 32-bit finaliser `fmix32` (Austin Appleby, SMHasher): a bijection with full
 * avalanche. FNV-1a alone mixes its last bytes poorly, and addresses differ mostly at the end.
 */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A second key hash, independent of {@link hashKey} for practical purposes: FNV-1a started from the
 * offset basis XOR `seed`, then `fmix32`. Maglev needs two (a member's offset and its skip).
 */
export function hashKeyWithSeed(text: string, seed: number): number {
  let h = (FNV_OFFSET_BASIS_32 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME_32);
  }
  return fmix32(h ^ seed);
}

/** The key hash used for client IPs and member endpoints: `fmix32(fnv1a32(text))`. */
export function hashKey(text: string): number {
  return fmix32(fnv1a32(text));
}
