/**
 * Turns the samples of bench/run.sh into the markdown results file: medians over the rounds, ratios
 * to the reference peer measured in the same run (HAProxy; NGINX for UDP) and to the Node
 * reference, p50/p99 latency, the performance targets as ratios, met or not, and (with
 * `BASELINE=` in bench/run.sh) this build against a baseline build measured in the same rounds.
 *
 *   node dist/bench/lib/report.js --samples S.tsv --facts F.tsv --skips K.txt --out results.md
 *
 * samples: `round scenario peer value unit p50_ms p99_ms errors`, tab-separated, one run a line.
 * facts: `key value`, tab-separated. skips: one line per skipped peer or scenario.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { option } from "./endpoint.js";

interface Sample {
  readonly round: number;
  readonly scenario: string;
  readonly peer: string;
  readonly value: number;
  readonly unit: string;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly ref: string;
  /** The Node reference: node-http-proxy round robin for L7, the naive Node relay for L4. */
  readonly nodeRef: { readonly scenario: string; readonly peer: string };
  readonly peers: Readonly<Record<string, string>>;
}

const NODE_HTTP = { scenario: "http-rr", peer: "node-http-proxy" };
const SCENARIOS: readonly Scenario[] = [
  {
    id: "http-rr",
    title: "HTTP keep-alive, round robin, no stickiness",
    ref: "haproxy",
    nodeRef: NODE_HTTP,
    peers: {
      stickylb: "stickylb `ROUND_ROBIN`",
      haproxy: "HAProxy `balance roundrobin`",
      nginx: "NGINX `proxy_pass`, upstream `keepalive 64`",
      "node-http-proxy": "node-http-proxy, keep-alive agent",
      direct: "(backend direct, no proxy)",
    },
  },
  {
    id: "http-cookie-new",
    title: "HTTP inserted sticky cookie, new clients (every response inserts)",
    ref: "haproxy",
    nodeRef: NODE_HTTP,
    peers: {
      stickylb: "stickylb `HTTP_COOKIE`",
      haproxy: "HAProxy `cookie SRV insert indirect nocache`",
    },
  },
  {
    id: "http-cookie-returning",
    title: "HTTP inserted sticky cookie, returning clients (valid cookie sent)",
    ref: "haproxy",
    nodeRef: NODE_HTTP,
    peers: {
      stickylb: "stickylb `HTTP_COOKIE`",
      haproxy: "HAProxy `cookie SRV insert indirect nocache`",
    },
  },
  {
    id: "http-app-cookie",
    title: "HTTP application cookie `JSESSIONID` (set by the backend, sent by the client)",
    ref: "haproxy",
    nodeRef: NODE_HTTP,
    peers: {
      stickylb: "stickylb `APP_COOKIE`",
      haproxy: "HAProxy `stick on req.cook` + `stick store-response res.cook`",
    },
  },
  {
    id: "tcp-keepalive",
    title: "TCP relay, keep-alive HTTP requests/s through it",
    ref: "haproxy",
    nodeRef: { scenario: "tcp-keepalive", peer: "naive-node" },
    peers: {
      stickylb: "stickylb TCP `SOURCE_IP`",
      haproxy: "HAProxy `mode tcp`, `balance source`",
      nginx: "NGINX stream `hash $remote_addr consistent`",
      "naive-node": "naive Node `pipe`",
    },
  },
  {
    id: "tcp-newconn",
    title: "TCP new connections/s (`Connection: close`, one request each)",
    ref: "haproxy",
    nodeRef: { scenario: "tcp-newconn", peer: "naive-node" },
    peers: {
      stickylb: "stickylb TCP `SOURCE_IP`",
      haproxy: "HAProxy `mode tcp`, `balance source`",
      nginx: "NGINX stream `hash $remote_addr consistent`",
      "naive-node": "naive Node `pipe`",
    },
  },
  {
    id: "tcp-bulk",
    title: "TCP bulk throughput (iperf3, one stream)",
    ref: "haproxy",
    nodeRef: { scenario: "tcp-bulk", peer: "naive-node" },
    peers: {
      stickylb: "stickylb TCP `SOURCE_IP`",
      haproxy: "HAProxy `mode tcp`",
      nginx: "NGINX stream",
      "naive-node": "naive Node `pipe`",
    },
  },
  {
    id: "udp",
    title: "UDP request/response datagrams/s",
    ref: "nginx",
    nodeRef: { scenario: "udp", peer: "naive-node" },
    peers: {
      stickylb: "stickylb UDP `SOURCE_IP`",
      nginx: "NGINX stream udp, `hash $remote_addr consistent`, `proxy_responses 1`",
      "naive-node": "naive Node `dgram` relay",
      direct: "(backend direct, no proxy: the load tool's ceiling)",
    },
  },
];

function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

function readTsv(path: string): string[][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split("\t"));
}

function readSamples(path: string): Sample[] {
  return readTsv(path).map(([round, scenario, peer, value, unit, p50, p99, errors]) => ({
    round: Number(round),
    scenario: scenario ?? "",
    peer: peer ?? "",
    value: Number(value),
    unit: unit ?? "",
    p50: Number(p50),
    p99: Number(p99),
    errors: Number(errors),
  }));
}

interface Summary {
  readonly value: number;
  readonly unit: string;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly values: readonly number[];
}

function summarise(samples: readonly Sample[]): Map<string, Summary> {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.scenario}/${s.peer}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const out = new Map<string, Summary>();
  for (const [key, group] of groups)
    out.set(key, {
      value: median(group.map((s) => s.value)),
      unit: group[0]!.unit,
      p50: median(group.map((s) => s.p50)),
      p99: median(group.map((s) => s.p99)),
      errors: group.reduce((sum, s) => sum + (Number.isFinite(s.errors) ? s.errors : 0), 0),
      values: group.map((s) => s.value),
    });
  return out;
}

function fmtValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "—";
  return unit === "Gbit/s" ? value.toFixed(2) : Math.round(value).toLocaleString("en-US");
}

function fmtRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "—";
  return (a / b).toFixed(2);
}

function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms` : "—";
}

const BASELINE = "stickylb-baseline";

/** The scenario's peers, plus the baseline build right after stickylb when one was measured. */
function peersOf(sc: Scenario): [string, string][] {
  const out: [string, string][] = [];
  for (const [peer, label] of Object.entries(sc.peers)) {
    out.push([peer, label]);
    if (peer === "stickylb") out.push([BASELINE, `${label}, baseline build`]);
  }
  return out;
}

/** This build ÷ the baseline build, per scenario: throughput and p99 (rounds interleaved). */
function baselineTable(stats: Map<string, Summary>): string[] {
  const lines = [
    "| scenario | this build | baseline | this ÷ baseline | p99 this / baseline |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const sc of SCENARIOS) {
    const a = stats.get(`${sc.id}/stickylb`);
    const b = stats.get(`${sc.id}/${BASELINE}`);
    if (a === undefined || b === undefined) continue;
    lines.push(
      `| ${sc.title} | ${fmtValue(a.value, a.unit)} ${a.unit} | ${fmtValue(b.value, b.unit)} ${b.unit} | **${fmtRatio(
        a.value,
        b.value,
      )}** | ${fmtMs(a.p99)} / ${fmtMs(b.p99)} |`,
    );
  }
  return lines.length > 2 ? lines : [];
}

function resultsTable(stats: Map<string, Summary>): string[] {
  const lines = [
    "| scenario | peer | median | unit | each round | × HAProxy (NGINX for UDP) | × Node ref. | p50 | p99 | errors |",
    "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const sc of SCENARIOS) {
    const ref = stats.get(`${sc.id}/${sc.ref}`);
    const nodeRef = stats.get(`${sc.nodeRef.scenario}/${sc.nodeRef.peer}`);
    for (const [peer, label] of peersOf(sc)) {
      const s = stats.get(`${sc.id}/${peer}`);
      if (s === undefined) continue;
      const reference = peer === "direct" ? undefined : ref?.value;
      const node = peer === "direct" ? undefined : nodeRef?.value;
      lines.push(
        `| ${sc.title} | ${label} | **${fmtValue(s.value, s.unit)}** | ${s.unit} | ${s.values
          .map((v) => fmtValue(v, s.unit))
          .join(
            " / ",
          )} | ${fmtRatio(s.value, reference)} | ${fmtRatio(s.value, node)} | ${fmtMs(s.p50)} | ${fmtMs(
          s.p99,
        )} | ${s.errors} |`,
      );
    }
  }
  return lines;
}

interface Target {
  readonly what: string;
  readonly a: string;
  readonly b: string;
  readonly min?: number;
  /** Compare p99 latencies: a's p99 at most `max` × b's. */
  readonly maxP99?: number;
}

const TARGETS: readonly Target[] = [
  {
    what: "HTTP_COOKIE new clients ≥ 0.5 × HAProxy cookie insert",
    a: "http-cookie-new/stickylb",
    b: "http-cookie-new/haproxy",
    min: 0.5,
  },
  {
    what: "HTTP_COOKIE returning clients ≥ 0.5 × HAProxy cookie insert",
    a: "http-cookie-returning/stickylb",
    b: "http-cookie-returning/haproxy",
    min: 0.5,
  },
  {
    what: "HTTP_COOKIE new clients ≥ 2 × node-http-proxy",
    a: "http-cookie-new/stickylb",
    b: "http-rr/node-http-proxy",
    min: 2,
  },
  {
    what: "HTTP_COOKIE returning clients ≥ 2 × node-http-proxy",
    a: "http-cookie-returning/stickylb",
    b: "http-rr/node-http-proxy",
    min: 2,
  },
  {
    what: "HTTP_COOKIE new clients p99 ≤ 2 × HAProxy's",
    a: "http-cookie-new/stickylb",
    b: "http-cookie-new/haproxy",
    maxP99: 2,
  },
  {
    what: "HTTP_COOKIE returning clients p99 ≤ 2 × HAProxy's",
    a: "http-cookie-returning/stickylb",
    b: "http-cookie-returning/haproxy",
    maxP99: 2,
  },
  {
    what: "HTTP without stickiness ≥ 0.5 × HAProxy round robin",
    a: "http-rr/stickylb",
    b: "http-rr/haproxy",
    min: 0.5,
  },
  {
    what: "Stickiness overhead: HTTP_COOKIE returning ≥ 0.9 × stickylb without stickiness",
    a: "http-cookie-returning/stickylb",
    b: "http-rr/stickylb",
    min: 0.9,
  },
  {
    what: "TCP keep-alive relay ≥ 0.8 × HAProxy",
    a: "tcp-keepalive/stickylb",
    b: "tcp-keepalive/haproxy",
    min: 0.8,
  },
  { what: "TCP bulk ≥ 0.9 × HAProxy", a: "tcp-bulk/stickylb", b: "tcp-bulk/haproxy", min: 0.9 },
  {
    what: "TCP new connections/s ≥ 0.5 × HAProxy",
    a: "tcp-newconn/stickylb",
    b: "tcp-newconn/haproxy",
    min: 0.5,
  },
  { what: "UDP ≥ 0.5 × NGINX stream", a: "udp/stickylb", b: "udp/nginx", min: 0.5 },
];

function targetsTable(stats: Map<string, Summary>): string[] {
  const lines = ["| target | measured ratio | met |", "| --- | ---: | :---: |"];
  for (const t of TARGETS) {
    const a = stats.get(t.a);
    const b = stats.get(t.b);
    const p99 = t.maxP99 !== undefined;
    const ratio = a !== undefined && b !== undefined ? (p99 ? a.p99 / b.p99 : a.value / b.value) : Number.NaN;
    const met = !Number.isFinite(ratio)
      ? "not measured"
      : p99
        ? ratio <= t.maxP99!
          ? "yes"
          : "**no**"
        : ratio >= t.min!
          ? "yes"
          : "**no**";
    lines.push(`| ${t.what} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : "—"} | ${met} |`);
  }
  return lines;
}

function main(): void {
  const argv = process.argv;
  const samples = readSamples(option(argv, "samples"));
  const facts = readTsv(option(argv, "facts"));
  const skips = existsSync(option(argv, "skips"))
    ? readFileSync(option(argv, "skips"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
    : [];
  const stats = summarise(samples);
  const date = facts.find(([k]) => k === "date")?.[1] ?? new Date().toISOString().slice(0, 10);
  const out = [
    `# stickylb against its peers — ${date}`,
    "",
    "Produced by `bench/run.sh` (`npm run bench`); the method is in `docs/performance.md`. Absolute",
    "figures drift from run to run and machine to machine: only the ratios of one run mean something.",
    "",
    "## Machine and versions",
    "",
    "| | |",
    "| --- | --- |",
    ...facts.map(([k, v]) => `| ${k} | ${v ?? ""} |`),
    "",
    "## Results (medians over the rounds)",
    "",
    "× Node ref. compares with node-http-proxy round robin for the HTTP scenarios and with the naive Node",
    "relay of the same scenario for TCP and UDP. p50/p99 are medians over the rounds of each run's",
    "percentile (wrk `--latency`; the UDP load tool for UDP; iperf3 reports none). Errors are wrk's",
    "non-2xx responses plus socket errors, or UDP datagrams unanswered within 200 ms, summed over the",
    "rounds.",
    "",
    ...resultsTable(stats),
    "",
    "## Targets",
    "",
    ...targetsTable(stats),
    "",
  ];
  const baseline = baselineTable(stats);
  if (baseline.length > 0) out.push("## This build against the baseline build", "", ...baseline, "");
  if (skips.length > 0) out.push("## Skipped", "", ...skips.map((s) => `- ${s}`), "");
  writeFileSync(option(argv, "out"), out.join("\n"));
  process.stdout.write(out.join("\n"));
}

main();
