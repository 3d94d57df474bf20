/**
 * The hostile-client campaign at full size against the real stickylb process: each scenario
 * starts stickylb, drives one kind of abuse, checks that other clients are served throughout,
 * and prints the table sizes, bounds and memory per entry (RSS from /proc, live heap from a heap
 * snapshot, i.e. after a full GC). docs/reliability.md keeps the figures.
 *
 *   npm run bench:hostile                      # every scenario
 *   npm run bench:hostile -- source-ip         # one; SIZE=100000 to change its size
 */
import * as net from "node:net";
import { metric, startLb } from "./lib/lb-process.js";

const only = process.argv.slice(2);
const mb = (b: number) => (b / 1024 / 1024).toFixed(1) + " MiB";

/** A member that accepts and closes: the connections only exist to create bindings. */
async function closingMember(address = "127.0.1.1"): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end();
  });
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A free TCP port on loopback (listen on 0, close, reuse the number). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The i-th of 2^24 distinct IPv4 source addresses in 10.0.0.0/8. */
function sourceIp(i: number): string {
  return `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
}

/** One connection that announces `ip` in a PROXY v1 header, then ends; resolves when it closed. */
function proxyV1Connection(port: number, ip: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.end(`PROXY TCP4 ${ip} 127.0.0.1 40000 80\r\n`);
    });
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.resume();
  });
}

async function inParallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** SOURCE_IP persistence fed through PROXY v1 clients: memory per binding, RSS and live heap. */
async function sourceIpBindings(size: number, distinct = true): Promise<void> {
  const member = await closingMember();
  const port = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: l4, protocol: TCP, address: 127.0.0.1, port: ${port}, defaultPool: p, proxyProtocol: true}
  pools:
    - name: p
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 30m}
      members:
        - {address: 127.0.1.1, port: ${member.port}}
`);
  try {
    // Warm up the code paths (and V8's compiled code) with a few hundred keys first.
    await inParallel(500, 50, (i) => proxyV1Connection(port, sourceIp(size + i)));
    const heap0 = await lb.liveHeap();
    const rss0 = lb.rssBytes();
    const t0 = Date.now();
    const text0 = await lb.metrics();
    await inParallel(size, 200, (i) => proxyV1Connection(port, sourceIp(distinct ? i : 0)));
    const seconds = (Date.now() - t0) / 1000;
    const text = await lb.metrics();
    const bindings = metric(text, 'stickylb_bindings{pool="p"}');
    const rss1 = lb.rssBytes();
    const v8Total = (t: string) => metric(t, "stickylb_nodejs_heap_size_total_bytes");
    const external = (t: string) => metric(t, "stickylb_nodejs_external_memory_bytes");
    console.log(
      `source-ip${distinct ? "" : " (one client IP)"}: V8 heap reserved ${mb(v8Total(text0))} -> ${mb(v8Total(text))}, external ${mb(external(text0))} -> ${mb(external(text))}`,
    );
    const heap1 = await lb.liveHeap(12);
    const rss2 = lb.rssBytes();
    console.log(`source-ip: ${size} PROXY v1 clients in ${seconds.toFixed(1)} s, ${bindings} bindings`);
    console.log(
      `source-ip: RSS ${mb(rss0)} -> ${mb(rss1)} (${((rss1 - rss0) / size).toFixed(0)} B/binding; ${mb(rss2)} after a full GC)`,
    );
    console.log(
      `source-ip: live heap ${mb(heap0.bytes)} -> ${mb(heap1.bytes)} (${((heap1.bytes - heap0.bytes) / size).toFixed(0)} B/binding)`,
    );
    for (const [name, bytes] of heap1.top) console.log(`  ${name.padEnd(40)} ${mb(bytes)}`);
  } finally {
    await lb.stop();
    member.close();
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  "source-ip": () => sourceIpBindings(Number(process.env.SIZE ?? 100_000)),
  // The same number of connections from one IP: what the connections cost apart from the bindings.
  "source-ip-one-client": () => sourceIpBindings(Number(process.env.SIZE ?? 100_000), false),
};

for (const [name, run] of Object.entries(scenarios)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await run();
}
