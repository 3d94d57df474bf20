/**
 * The reload soak, shared by `bench/reload-soak.ts` (1,000 reloads) and its short test: SIGHUP
 * reloads alternating two configurations that differ in members (one removed, one added) and in
 * listeners (a TCP listener added and removed), while sticky HTTP clients send keep-alive
 * requests. Counts failed requests, clients moved off a member that stayed in both
 * configurations, and samples memory at chosen reload counts.
 */
import * as http from "node:http";
import * as net from "node:net";
import { type LbProcess, metric, startLb } from "./lb-process.js";

export interface SoakSample {
  readonly reloads: number;
  readonly rssBytes: number;
  /** V8 heap in use as the admin API's default series reports it (garbage included). */
  readonly heapUsedBytes: number;
  /** Live heap after a full GC (heap snapshot); only where asked for. */
  readonly liveHeapBytes?: number;
  /** Of the live heap, what is not V8's compiled code: the objects the program keeps. */
  readonly liveObjectBytes?: number;
}

export interface SoakResult {
  readonly reloads: number;
  readonly requests: number;
  readonly failed: number;
  /** Requests of a sticky client answered by another member than its own, while its own stayed. */
  readonly moved: number;
  readonly samples: SoakSample[];
  readonly seconds: number;
}

export interface SoakOptions {
  readonly reloads: number;
  readonly clients?: number;
  /** Reload counts after which memory is sampled (live heap included). */
  readonly sampleAt?: readonly number[];
  readonly log?: (line: string) => void;
}

interface Member {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

async function listenOn(server: net.Server, address: string): Promise<number> {
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return (server.address() as net.AddressInfo).port;
}

/** An HTTP member that answers its name; keep-alive as Node's server does. */
async function httpMember(name: string, address: string): Promise<Member> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  const port = await listenOn(server, address);
  return {
    name,
    address,
    port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOn(server, "127.0.0.1");
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(
  webPort: number,
  tcpPort: number,
  members: Member[],
  withTcp: boolean,
  tcpMember: Member,
): string {
  const list = (ms: Member[]) =>
    ms.map((m) => `        - {address: ${m.address}, port: ${m.port}}`).join("\n");
  return `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: soak}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: web}
${withTcp ? `    - {name: extra, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: extra}\n` : ""}  pools:
    - name: web
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m}
      members:
${list(members)}
${withTcp ? `    - name: extra\n      members:\n${list([tcpMember])}\n` : ""}`;
}

/** One request of a sticky client; resolves with the member's name, or undefined when it failed. */
function ask(agent: http.Agent, port: number, jar: { cookie?: string }): Promise<string | undefined> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = jar.cookie === undefined ? {} : { cookie: jar.cookie };
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        const set = res.headers["set-cookie"]?.find((c) => c.startsWith("STICKYLB="));
        if (set !== undefined) jar.cookie = set.split(";")[0];
        resolve(res.statusCode === 200 ? body : undefined);
      });
      res.on("error", () => resolve(undefined));
    });
    req.on("error", () => resolve(undefined));
  });
}

export async function runReloadSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const members = [
    await httpMember("h1", "127.0.1.1"),
    await httpMember("h2", "127.0.1.2"),
    await httpMember("h3", "127.0.1.3"),
    await httpMember("h4", "127.0.1.4"),
  ];
  const tcpMember = await httpMember("t1", "127.0.1.5");
  const [h1, h2, h3, h4] = members as [Member, Member, Member, Member];
  const stay = new Set(["h1", "h2"]);
  const webPort = await freePort();
  const tcpPort = await freePort();
  const configA = config(webPort, tcpPort, [h1, h2, h3], true, tcpMember);
  const configB = config(webPort, tcpPort, [h1, h2, h4], false, tcpMember);
  const lb: LbProcess = await startLb(configA);
  const started = Date.now();
  let requests = 0;
  let failed = 0;
  let moved = 0;
  let running = true;
  const samples: SoakSample[] = [];
  try {
    const client = async (): Promise<void> => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const jar: { cookie?: string } = {};
      let own: string | undefined;
      while (running) {
        const name = await ask(agent, webPort, jar);
        requests++;
        if (name === undefined) {
          failed++;
          continue;
        }
        if (own !== undefined && name !== own && stay.has(own)) moved++;
        own = name;
      }
      agent.destroy();
    };
    const clients = Array.from({ length: options.clients ?? 16 }, client);
    const sampleAt = new Set(options.sampleAt ?? []);
    for (let r = 1; r <= options.reloads; r++) {
      const before = lb.logs().filter((e) => e.msg === "configuration reloaded").length;
      lb.reload(r % 2 === 1 ? configB : configA);
      const deadline = Date.now() + 10_000;
      while (lb.logs().filter((e) => e.msg === "configuration reloaded").length === before) {
        if (Date.now() > deadline) throw new Error(`reload ${r} was not applied within 10 s`);
        await sleep(2);
      }
      await sleep(10);
      if (sampleAt.has(r)) {
        const text = await lb.metrics();
        const live = await lb.liveHeap();
        const sample: SoakSample = {
          reloads: r,
          rssBytes: lb.rssBytes(),
          heapUsedBytes: metric(text, "stickylb_nodejs_heap_size_used_bytes"),
          liveHeapBytes: live.bytes,
          liveObjectBytes: live.bytes - live.codeBytes,
        };
        samples.push(sample);
        log(
          `after ${r} reloads: RSS ${(sample.rssBytes / 2 ** 20).toFixed(1)} MiB, heap used ${(sample.heapUsedBytes / 2 ** 20).toFixed(1)} MiB, live heap ${(live.bytes / 2 ** 20).toFixed(2)} MiB (objects ${((live.bytes - live.codeBytes) / 2 ** 20).toFixed(2)} MiB, code ${(live.codeBytes / 2 ** 20).toFixed(2)} MiB); ${requests} requests, ${failed} failed, ${moved} moved`,
        );
      }
    }
    running = false;
    await Promise.all(clients);
  } finally {
    running = false;
    await lb.stop();
    for (const m of [...members, tcpMember]) await m.close();
  }
  return {
    reloads: options.reloads,
    requests,
    failed,
    moved,
    samples,
    seconds: (Date.now() - started) / 1000,
  };
}
