import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { onePoolConfig } from "../support/config-yaml.js";
import { cookiePair } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylbYaml, type StickylbProcess } from "../support/stickylb-process.js";

/** An HTTP member whose `GET /healthz` answers 200 or 503 as told; anything else answers its name. */
interface Member {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  healthz: number;
  close(): Promise<void>;
}

async function startMember(name: string, address: string): Promise<Member> {
  const m = { name, address, port: 0, healthz: 200 };
  const server = http.createServer((req, res) => {
    if (req.url === "/healthz") res.writeHead(m.healthz).end();
    else res.writeHead(200, { "content-type": "text/plain" }).end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  m.port = (server.address() as AddressInfo).port;
  return Object.assign(m, {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

function get(
  port: number,
  agent: http.Agent | false,
  localAddress: string,
  cookie?: string,
): Promise<{ body: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        agent,
        localAddress,
        headers: cookie === undefined ? {} : { cookie },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ body, cookies: res.headers["set-cookie"] ?? [] }));
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
  });
}

/** The value of `stickylb_member_up` for one member, read from `/metrics`. */
async function memberUp(adminPort: number, endpoint: string): Promise<number | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port: adminPort, path: "/metrics", agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
  for (const line of text.split("\n")) {
    if (line.startsWith("stickylb_member_up{") && line.includes(`member="${endpoint}"`))
      return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startMembers(base: number): Promise<Member[]> {
  const list: Member[] = [];
  for (let i = 1; i <= 3; i++) list.push(await startMember(`m${i}`, `127.0.1.${base + i}`));
  cleanups.push(async () => {
    for (const m of list) await m.close();
  });
  return list;
}

async function startLb(yaml: string): Promise<StickylbProcess> {
  const proc = await runStickylbYaml(yaml);
  cleanups.push(async () => {
    await proc.stop();
  });
  return proc;
}

function config(protocol: "HTTP" | "TCP", port: number, extra: string, members: Member[]): string {
  return onePoolConfig({
    name: "health-traffic",
    protocol,
    port,
    pool: `      algorithm: ROUND_ROBIN\n${extra}`,
    members,
  });
}

/** Polls until `check` is true or `ms` have passed; whether it became true. */
async function eventually(check: () => Promise<boolean>, ms: number, every = 200): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, every));
  }
  return check();
}

describe("health under traffic", () => {
  it("a member whose health URL fails goes down although a keep-alive sticky client keeps using it", async () => {
    const members = await startMembers(40);
    const port = await freeTcpPort();
    const proc = await startLb(
      config(
        "HTTP",
        port,
        `      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m}
      healthMonitor: {type: HTTP, delay: 1s, timeout: 500ms, maxRetries: 2, maxRetriesDown: 2, urlPath: /healthz}`,
        members,
      ),
    );
    const adminPort = await proc.adminPort();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const first = await get(port, agent, "127.0.0.2");
    const cookie = cookiePair(first.cookies, "STICKYLB");
    expect(cookie).toBeDefined();
    const home = members.find((m) => m.name === first.body)!;
    const endpoint = `${home.address}:${home.port}`;
    expect(await memberUp(adminPort, endpoint)).toBe(1);

    // The client sends a request every 600 ms, more often than the monitor probes.
    let sending = true;
    const answers: string[] = [];
    const client = (async () => {
      while (sending) {
        answers.push((await get(port, agent, "127.0.0.2", cookie)).body);
        await new Promise((r) => setTimeout(r, 600));
      }
    })();
    home.healthz = 503;
    // Two failed probes one second apart: down in about 2 s; 15 s leaves room for a busy machine.
    const down = await eventually(async () => (await memberUp(adminPort, endpoint)) === 0, 15_000);
    sending = false;
    await client;
    expect(down).toBe(true);
    expect(answers.length).toBeGreaterThan(0);
    // Once down, the sticky client is placed on another member.
    expect((await get(port, agent, "127.0.0.2", cookie)).body).not.toBe(home.name);
  });

  it("without a monitor, a member that refuses connects is ejected and new clients stop paying for it", async () => {
    const members = await startMembers(50);
    const port = await freeTcpPort();
    const proc = await startLb(config("HTTP", port, "", members));
    const adminPort = await proc.adminPort();
    const dead = members[0]!;
    const endpoint = `${dead.address}:${dead.port}`;
    await dead.close();
    // Each request placed on the dead member is retried on another one (the client sees 200).
    for (let i = 0; i < 15; i++) {
      const answer = await get(port, false, `127.0.0.${10 + i}`);
      expect(answer.body).not.toBe(dead.name);
    }
    expect(await memberUp(adminPort, endpoint)).toBe(0);
    const ejected = await proc.waitForLog(
      (e) => e.msg === "member health changed" && e.member === endpoint && e.healthy === false,
    );
    expect(ejected.reason).toMatch(/^passive: 3 consecutive connect failure\(s\), last: ECONNREFUSED/);
    // While ejected, nothing is sent to it: no further connect failure is logged.
    const failuresBefore = proc.stdout().split(endpoint).length;
    for (let i = 0; i < 6; i++) await get(port, false, `127.0.0.${30 + i}`);
    expect(proc.stdout().split(endpoint).length).toBe(failuresBefore);
  });

  it("without a monitor, a TCP member that refuses connects is ejected too", async () => {
    const port = await freeTcpPort();
    const closed = await freeTcpPort("127.0.1.61");
    const live = await startMembers(61);
    const dead = { address: "127.0.1.61", port: closed } as Member;
    const proc = await startLb(config("TCP", port, "", [dead, live[1]!, live[2]!]));
    const adminPort = await proc.adminPort();
    for (let i = 0; i < 15; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port, localAddress: `127.0.0.${10 + i}` }, () => {
          s.end("GET / HTTP/1.0\r\n\r\n");
        });
        s.resume();
        s.on("close", () => resolve());
        s.on("error", () => resolve());
      });
    }
    expect(await memberUp(adminPort, `${dead.address}:${dead.port}`)).toBe(0);
  });
});
