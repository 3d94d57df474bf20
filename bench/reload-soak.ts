/**
 * Reload soak: RELOADS (default 1,000) SIGHUP reloads alternating two configurations (a member
 * removed and another added, a TCP listener added and removed) under keep-alive load from sticky
 * HTTP_COOKIE clients. Prints failed requests, sticky clients moved off a member that stayed, and
 * RSS, heap in use and live heap (after a full GC) after 100 reloads and at the end; the live heap
 * also without V8's compiled code, which grows as the JIT warms up under the load and then levels
 * off (what reloads would leak shows in the objects).
 *
 *   npm run bench:soak
 *   RELOADS=2000 CLIENTS=32 npm run bench:soak
 */
import { runReloadSoak } from "./lib/reload-soak.js";

const reloads = Number(process.env.RELOADS ?? 1000);
const result = await runReloadSoak({
  reloads,
  clients: Number(process.env.CLIENTS ?? 16),
  sampleAt: [100, reloads],
  log: (line) => console.log(line),
});
const [first, last] = [result.samples[0], result.samples.at(-1)];
console.log(
  `reload soak: ${result.reloads} reloads in ${result.seconds.toFixed(0)} s, ${result.requests} requests, ` +
    `${result.failed} failed, ${result.moved} sticky requests moved off a member that stayed`,
);
if (first !== undefined && last !== undefined && first !== last) {
  const perReload = (a = 0, b = 0) => ((b - a) / (last.reloads - first.reloads)).toFixed(0);
  const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)} %`;
  console.log(
    `memory ${first.reloads} -> ${last.reloads} reloads: RSS ${pct(first.rssBytes, last.rssBytes)}, ` +
      `live heap ${pct(first.liveHeapBytes ?? 0, last.liveHeapBytes ?? 0)} ` +
      `(${perReload(first.liveHeapBytes, last.liveHeapBytes)} B per reload), ` +
      `live objects without compiled code ${pct(first.liveObjectBytes ?? 0, last.liveObjectBytes ?? 0)} ` +
      `(${perReload(first.liveObjectBytes, last.liveObjectBytes)} B per reload)`,
  );
}
