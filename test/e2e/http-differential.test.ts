import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCase, type HttpCase, SENTINEL } from "../../bench/lib/http-cases.js";
import { Differential } from "../../bench/lib/http-differential.js";
import { STICKYLB_MAIN } from "../support/stickylb-process.js";

/**
 * The differential campaign inside `npm test`: generated and mutated request streams, sent to
 * llhttp directly and through the real stickylb process; stickylb must never be looser than
 * llhttp (see docs/reliability.md). The bench (`npm run bench:differential`) runs the same
 * harness at 100,000+ cases.
 */
const SEED = 20_261_206;
const CASES = 3_000;

function fixed(index: number, text: string): HttpCase {
  return { seed: 0, index, tags: ["fixed"], bytes: Buffer.from(text + SENTINEL, "latin1") };
}

const CHUNKED = "POST /up HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n";
/** Inputs a looser stickylb forwarded although llhttp refuses them. */
const SMUGGLING_INPUTS = [
  `${CHUNKED}3 \r\nabc\r\n0\r\n\r\n`,
  `${CHUNKED}5\t\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}0 \r\n\r\n`,
  `${CHUNKED}5 ;ext\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}5;\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}5; ext\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}5;"x"\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}5;\xff\r\nhello\r\n0\r\n\r\n`,
  `${CHUNKED}0\r\nX-T: a\x00b\r\n\r\n`,
  `${CHUNKED}0\r\nX-T: a\r\n b\r\n\r\n`,
  `${CHUNKED}0\r\nX T: v\r\n\r\n`,
  `${CHUNKED}0\r\nGET /SMUGGLE2 HTTP/1.1\r\n\r\n`,
  `${CHUNKED}0\r\nContent-Length: 5\r\n\r\n`,
  "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5, 5\r\n\r\nhello",
  "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
  "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: shop.example\r\n\r\n",
];

describe("differential HTTP/1.1 against llhttp (real stickylb process)", () => {
  const diff = new Differential({ main: STICKYLB_MAIN, concurrency: 48 });
  beforeAll(() => diff.start(), 30_000);
  afterAll(() => diff.stop());

  it("refuses every input of the known smuggling list, and forwards nothing of it", async () => {
    const counts = await diff.run(SMUGGLING_INPUTS.map((text, i) => fixed(i, text)));
    expect(counts.mismatches.map((m) => m.result.why)).toEqual([]);
    expect(counts.byVerdict["refused-by-both"]).toBe(SMUGGLING_INPUTS.length);
  }, 60_000);

  it(`${CASES} generated cases (seed ${SEED}): stickylb is never looser than llhttp`, async () => {
    const cases = Array.from({ length: CASES }, (_, i) => generateCase(SEED, i));
    const counts = await diff.run(cases);
    const report = counts.mismatches.slice(0, 5).map(({ case: c, result }) => ({
      index: c.index,
      tags: c.tags,
      why: result.why,
      bytes: c.bytes.toString("latin1"),
    }));
    expect(report).toEqual([]);
    expect(counts.unattributed).toBe(0);
    expect(diff.alive).toBe(true);
    expect(counts.total).toBe(CASES);
    // The campaign means something only if both paths are exercised in bulk.
    expect(counts.byVerdict["forwarded-and-equal"]).toBeGreaterThan(CASES / 4);
    expect(counts.byVerdict["refused-by-both"]).toBeGreaterThan(CASES / 4);
  }, 180_000);
});
