/**
 * The hostile-client campaign at full size against the real stickylb process: each scenario
 * starts stickylb, drives one kind of abuse, checks that other clients are served throughout,
 * and prints the table sizes, bounds and memory per entry (RSS from /proc, live heap from a heap
 * snapshot, i.e. after a full GC). docs/reliability.md keeps the figures.
 *
 *   npm run bench:hostile                      # every scenario
 *   npm run bench:hostile -- source-ip         # one; SIZE=100000 to change its size
 */
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as net from "node:net";
import {
  closingMember,
  freePort,
  freeUdpPort,
  get,
  httpMember,
  inParallel,
  proxyV1Connection,
  sourceIp,
  udpEcho,
  warnLines,
} from "./lib/bench-net.js";
import { metric, startLb } from "./lib/lb-process.js";

const only = process.argv.slice(2);
/** How long a scenario leaves stickylb idle before reading its steady memory. */
const IDLE_MS = Number(process.env.IDLE_MS ?? 30_000);
const mb = (b: number) => (b / 1024 / 1024).toFixed(1) + " MiB";

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
    // V8's memory reducer gives back heap slack once allocation stops; RSS after it is the steady cost.
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rssIdle = lb.rssBytes();
    const textIdle = await lb.metrics();
    const v8Total = (t: string) => metric(t, "stickylb_nodejs_heap_size_total_bytes");
    const external = (t: string) => metric(t, "stickylb_nodejs_external_memory_bytes");
    console.log(
      `source-ip${distinct ? "" : " (one client IP)"}: V8 heap reserved ${mb(v8Total(text0))} -> ${mb(v8Total(text))} (${mb(v8Total(textIdle))} after ${IDLE_MS / 1000} s idle), external ${mb(external(text0))} -> ${mb(external(text))}`,
    );
    const heap1 = await lb.liveHeap(12);
    const rss2 = lb.rssBytes();
    console.log(`source-ip: ${size} PROXY v1 clients in ${seconds.toFixed(1)} s, ${bindings} bindings`);
    console.log(
      `source-ip: RSS ${mb(rss0)} -> ${mb(rss1)} (${((rss1 - rss0) / size).toFixed(0)} B/binding; after ${IDLE_MS / 1000} s idle ${mb(rssIdle)}, ${((rssIdle - rss0) / size).toFixed(0)} B/binding; ${mb(rss2)} after the snapshot's full GC)`,
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

/** UDP flows from one host (bind, one datagram, close), far past the bound; HTTP checked throughout. */
async function udpFlood(size: number): Promise<void> {
  const echo = await udpEcho("127.0.1.1");
  const web = await httpMember("w1", "127.0.1.2");
  const udpPort = await freeUdpPort();
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: flood, protocol: UDP, address: 127.0.0.1, port: ${udpPort}, defaultPool: u}
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w}
  pools:
    - {name: u, members: [{address: 127.0.1.1, port: ${echo.port}}]}
    - {name: w, members: [{address: 127.0.1.2, port: ${web.port}}]}
`);
  try {
    const rss0 = lb.rssBytes();
    let httpFailed = 0;
    let httpAsked = 0;
    let maxFds = 0;
    const t0 = Date.now();
    for (let i = 0; i < size; i += 100) {
      await Promise.all(
        Array.from(
          { length: 100 },
          () =>
            new Promise<void>((resolve) => {
              const s = dgram.createSocket("udp4");
              s.on("error", () => resolve());
              s.bind({ address: "127.0.0.2", port: 0 }, () =>
                s.send("x", udpPort, "127.0.0.1", () => s.close(() => resolve())),
              );
            }),
        ),
      );
      if (i % 2000 === 0) {
        httpAsked++;
        if ((await get(webPort)) !== 200) httpFailed++;
        maxFds = Math.max(maxFds, metric(await lb.metrics(), "stickylb_process_open_fds"));
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    const text = await lb.metrics();
    const flows = metric(text, 'stickylb_udp_flows{listener="flood"}');
    const rss1 = lb.rssBytes();
    console.log(
      `udp-flows: ${size} one-datagram flows in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
        `bound ${metric(text, 'stickylb_limit{table="udp_flows"}')} (open-file limit ${metric(text, "stickylb_process_max_fds")}), ` +
        `${flows} open, ${metric(text, 'stickylb_limit_reached_total{table="udp_flows",action="evicted"}')} evicted at the bound, ` +
        `${warnLines(lb.logs(), "udp_flows")} warn line(s); descriptors at most ${maxFds}; ` +
        `HTTP during the flood: ${httpAsked - httpFailed}/${httpAsked} answered 200; ` +
        `RSS ${mb(rss0)} -> ${mb(rss1)} (${((rss1 - rss0) / Math.max(1, flows)).toFixed(0)} B per open flow)`,
    );
  } finally {
    await lb.stop();
    echo.close();
    web.close();
  }
}

/** Idle TCP connections to an HTTP listener (no byte sent), then whether a new client is served. */
async function idleConnections(size: number): Promise<void> {
  const web = await httpMember("w1", "127.0.1.2");
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w, timeouts: {idle: 120s, client: 120s}}
  pools:
    - {name: w, members: [{address: 127.0.1.2, port: ${web.port}}]}
`);
  const sockets: net.Socket[] = [];
  try {
    const rss0 = lb.rssBytes();
    let closedEarly = 0;
    for (let i = 0; i < size; i += 200) {
      await Promise.all(
        Array.from(
          { length: Math.min(200, size - i) },
          (_, k) =>
            new Promise<void>((resolve) => {
              const s = net.connect({
                host: "127.0.0.1",
                port: webPort,
                localAddress: `127.0.2.${1 + ((i + k) % 200)}`,
              });
              s.on("error", () => {});
              s.on("close", () => closedEarly++);
              s.on("connect", () => resolve());
              s.on("error", () => resolve());
              sockets.push(s);
            }),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const text = await lb.metrics();
    const open = metric(text, 'stickylb_listener_open_connections{listener="web"}');
    const refused = metric(text, 'stickylb_limit_reached_total{table="connections",action="refused"}');
    const newClient = await get(webPort);
    const rss1 = lb.rssBytes();
    console.log(
      `idle-connections: ${size} idle connections: ${open} held open, ${refused} refused at the bound ` +
        `${metric(text, 'stickylb_limit{table="connections"}')} (closed at the client: ${closedEarly}), ` +
        `${warnLines(lb.logs(), "connections")} warn line(s); a new client meanwhile: ${newClient || "refused"}; ` +
        `RSS ${mb(rss0)} -> ${mb(rss1)} (${((rss1 - rss0) / Math.max(1, open)).toFixed(0)} B per open connection)`,
    );
    for (const s of sockets.splice(0, Math.ceil(sockets.length / 2))) s.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    console.log(
      `idle-connections: after half of them closed, a new client: ${(await get(webPort)) || "refused"}`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await lb.stop();
    web.close();
  }
}

/** Requests with forged HTTP_COOKIE values: placed afresh, counted as invalid, no table grows. */
async function forgedCookies(size: number): Promise<void> {
  const web = await httpMember("w1", "127.0.1.2");
  const web2 = await httpMember("w2", "127.0.1.3");
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w}
  pools:
    - name: w
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m}
      members: [{address: 127.0.1.2, port: ${web.port}}, {address: 127.0.1.3, port: ${web2.port}}]
`);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const rss0 = lb.rssBytes();
    const statuses = new Map<number, number>();
    await inParallel(size, 32, async (i) => {
      const forged = Buffer.from(`forged-${i}-${Math.random()}`).toString("base64url");
      const status = await get(webPort, "/", { cookie: `STICKYLB=${forged}` }, agent);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
    agent.destroy();
    const text = await lb.metrics();
    console.log(
      `forged-cookies: ${size} requests with forged cookies: statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
        `affinity invalid ${metric(text, 'stickylb_affinity_decisions_total{pool="w",result="invalid"}')}, ` +
        `RSS ${mb(rss0)} -> ${mb(lb.rssBytes())}`,
    );
  } finally {
    await lb.stop();
    web.close();
    web2.close();
  }
}

/** APP_COOKIE values learnt from responses: the table fills to its bound, memory per entry. */
async function appCookies(size: number): Promise<void> {
  const web = await httpMember("w1", "127.0.1.2");
  const web2 = await httpMember("w2", "127.0.1.3");
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w}
  pools:
    - name: w
      sessionPersistence: {type: APP_COOKIE, cookieName: SESSION, persistenceTimeout: 30m}
      members: [{address: 127.0.1.2, port: ${web.port}}, {address: 127.0.1.3, port: ${web2.port}}]
`);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    await inParallel(500, 32, async (i) => void (await get(webPort, `/?v=warm${i}`, {}, agent)));
    const heap0 = await lb.liveHeap();
    const rss0 = lb.rssBytes();
    const t0 = Date.now();
    let failed = 0;
    await inParallel(size, 64, async (i) => {
      const v = (i.toString(16).padStart(8, "0") + "0123456789abcdef01234567").slice(0, 32);
      if ((await get(webPort, `/?v=${v}`, {}, agent)) !== 200) failed++;
    });
    agent.destroy();
    const seconds = (Date.now() - t0) / 1000;
    const text = await lb.metrics();
    const bindings = metric(text, 'stickylb_bindings{pool="w"}');
    const rss1 = lb.rssBytes();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rssIdle = lb.rssBytes();
    const heap1 = await lb.liveHeap();
    console.log(
      `app-cookie: ${size} values in ${seconds.toFixed(0)} s (${failed} failed), ${bindings} bindings; ` +
        `live heap ${((heap1.bytes - heap0.bytes) / bindings).toFixed(0)} B/binding; RSS ${mb(rss0)} -> ${mb(rss1)} ` +
        `(${((rss1 - rss0) / bindings).toFixed(0)} B/binding; after ${IDLE_MS / 1000} s idle ${((rssIdle - rss0) / bindings).toFixed(0)} B/binding)`,
    );
  } finally {
    await lb.stop();
    web.close();
    web2.close();
  }
}

/** Slowloris: connections trickling a request head one byte a second; other clients checked each second. */
async function slowloris(size: number, seconds: number): Promise<void> {
  const web = await httpMember("w1", "127.0.1.2");
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w, timeouts: {client: 10s}}
  pools:
    - {name: w, members: [{address: 127.0.1.2, port: ${web.port}}]}
`);
  const head = "GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + "a".repeat(200) + "\r\n\r\n";
  const sockets: { socket: net.Socket; sent: number; answer: string }[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const socket = net.connect({
        host: "127.0.0.1",
        port: webPort,
        localAddress: `127.0.3.${1 + (i % 200)}`,
      });
      const entry = { socket, sent: 0, answer: "" };
      socket.on("error", () => {});
      socket.on("data", (d) => {
        entry.answer += d.toString("latin1");
      });
      sockets.push(entry);
    }
    let served = 0;
    for (let t = 0; t < seconds; t++) {
      for (const e of sockets) if (!e.socket.destroyed) e.socket.write(head[e.sent++]!);
      if ((await get(webPort)) === 200) served++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const answered408 = sockets.filter((e) => e.answer.startsWith("HTTP/1.1 408")).length;
    const closed = sockets.filter((e) => e.socket.destroyed || e.socket.readableEnded).length;
    console.log(
      `slowloris: ${size} connections trickling a head byte a second for ${seconds} s (timeouts.client 10s): ` +
        `${answered408} answered 408, ${closed} closed; another client served ${served}/${seconds} times meanwhile`,
    );
  } finally {
    for (const e of sockets) e.socket.destroy();
    await lb.stop();
    web.close();
  }
}

/** Request heads over the 64 KiB bound: each answered 431 and closed; others served. */
async function oversizedHeads(size: number): Promise<void> {
  const web = await httpMember("w1", "127.0.1.2");
  const webPort = await freePort();
  const lb = await startLb(`apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: hostile}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: w}
  pools:
    - {name: w, members: [{address: 127.0.1.2, port: ${web.port}}]}
`);
  try {
    const rss0 = lb.rssBytes();
    const big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(100 * 1024) + "\r\n\r\n";
    const statuses = new Map<string, number>();
    await inParallel(size, 16, async () => {
      const answer = await new Promise<string>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port: webPort }, () => s.write(big));
        let got = "";
        s.on("data", (d) => {
          got += d.toString("latin1");
        });
        s.on("error", () => {});
        s.on("close", () => resolve(got.slice(0, 12)));
      });
      statuses.set(answer, (statuses.get(answer) ?? 0) + 1);
    });
    const normal = await get(webPort);
    console.log(
      `oversized-heads: ${size} heads of 100 KiB: ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `a normal client then: ${normal}; RSS ${mb(rss0)} -> ${mb(lb.rssBytes())}`,
    );
  } finally {
    await lb.stop();
    web.close();
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  "source-ip": () => sourceIpBindings(Number(process.env.SIZE ?? 100_000)),
  // The same number of connections from one IP: what the connections cost apart from the bindings.
  "source-ip-one-client": () => sourceIpBindings(Number(process.env.SIZE ?? 100_000), false),
  "udp-flows": () => udpFlood(Number(process.env.SIZE ?? 100_000)),
  "idle-connections": () => idleConnections(Number(process.env.SIZE ?? 10_000)),
  slowloris: () => slowloris(Number(process.env.SIZE ?? 1000), Number(process.env.SECONDS ?? 15)),
  "oversized-heads": () => oversizedHeads(Number(process.env.SIZE ?? 1000)),
  "forged-cookies": () => forgedCookies(Number(process.env.SIZE ?? 10_000)),
  "app-cookie": () => appCookies(Number(process.env.SIZE ?? 1_000_000)),
};

for (const [name, run] of Object.entries(scenarios)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await run();
}
