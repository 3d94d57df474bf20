/**
 * The differential campaign at size: generated and mutated HTTP/1.1 request streams sent to llhttp
 * directly and through a real stickylb process (bench/lib/http-differential.ts), with counts per
 * verdict. Exits 1 on any MISMATCH (stickylb forwarded something llhttp reads differently or
 * refuses), printing each such case with the seed and index that regenerate it.
 *
 *   npm run bench:differential                       # 100,000 cases, seed 1
 *   CASES=20000 SEED=7 CONCURRENCY=64 npm run bench:differential
 */
import { resolve } from "node:path";
import { generateCase, type HttpCase } from "./lib/http-cases.js";
import { Differential } from "./lib/http-differential.js";

const CASES = Number(process.env.CASES ?? 100_000);
const SEED = Number(process.env.SEED ?? 1);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);

function* cases(): Generator<HttpCase> {
  for (let i = 0; i < CASES; i++) yield generateCase(SEED, i);
}

const diff = new Differential({
  main: resolve(import.meta.dirname, "../src/main.js"),
  concurrency: CONCURRENCY,
});
await diff.start();
const started = Date.now();
let shown = 0;
const counts = await diff.run(cases(), (c, r) => {
  if (r.verdict === "MISMATCH" && shown++ < Number(process.env.SHOW ?? 20))
    console.log(
      JSON.stringify({
        seed: c.seed,
        index: c.index,
        tags: c.tags,
        why: r.why,
        bytes: c.bytes.toString("latin1"),
        direct: r.direct,
        viaStickylb: r.viaStickylb,
      }),
    );
  const done = c.index + 1;
  if (done % 10_000 === 0) console.error(`${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
const alive = diff.alive;
await diff.stop();
const seconds = (Date.now() - started) / 1000;
console.log(`seed ${SEED}, ${counts.total} cases in ${seconds.toFixed(0)} s (${CONCURRENCY} in flight)`);
for (const [verdict, n] of Object.entries(counts.byVerdict)) console.log(`${verdict.padEnd(36)} ${n}`);
console.log(`${"refusals not tied to a case".padEnd(36)} ${counts.unattributed}`);
console.log(`${"stickylb alive at the end".padEnd(36)} ${alive}`);
console.log(`${"harness connects tried again".padEnd(36)} ${diff.harnessRetries}`);
process.exit(counts.byVerdict.MISMATCH === 0 && counts.unattributed === 0 && alive ? 0 : 1);
