import { describe, expect, it } from "vitest";
import { fmix32, fnv1a32, hashKey } from "../../../src/data/balancer/hash.js";

describe("fnv1a32", () => {
  it("matches the published FNV-1a 32-bit test vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });
});

describe("fmix32", () => {
  it("matches MurmurHash3_x86_32 of the empty input, which is fmix32(seed)", () => {
    // SMHasher's verification values for "" with seeds 0, 1 and 0xffffffff.
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    expect(fmix32(0xffffffff)).toBe(0x81f16f39);
  });

  it("returns unsigned 32-bit values", () => {
    for (const value of [-1, 0x80000000, 0x7fffffff, 12345]) {
      const h = fmix32(value);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
  });
});

describe("hashKey", () => {
  it("is fmix32 of FNV-1a", () => {
    expect(hashKey("10.0.0.1:8080")).toBe(fmix32(fnv1a32("10.0.0.1:8080")));
  });
});
