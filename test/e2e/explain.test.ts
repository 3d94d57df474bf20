import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort, freeUdpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";
import { startUdpBackend, type UdpBackend, udpClient } from "../support/udp-backends.js";

/** The answer of GET /api/v1/explain, as far as these tests read it. */
interface Explained {
  listener: string;
  rule: { host: string | null; path: string | null } | null;
  pool: string | null;
  key: {
    type: string;
    found: boolean;
    decoded: {
      member: string | null;
      issuedAt: string | null;
      ageMs: number | null;
      expired: boolean;
      forged: boolean;
      idleMs: number | null;
    } | null;
  } | null;
  members: { member: string; name: string | null; eligible: boolean; why: string }[];
  chosen: string | null;
  result: string | null;
  reason: string;
}

/**
 * One stickylb with a listener per kind of placement; every test asks explain where a client would
 * go, then sends the real request or connection and checks it went there.
 */
describe("GET /api/v1/explain predicts where the next request goes", () => {
  const web: HttpBackend[] = [];
  const app: HttpBackend[] = [];
  const fragile: HttpBackend[] = [];
  const tcp: TcpBackend[] = [];
  const udp: UdpBackend[] = [];
  let udpPort = 0;
  const ports = { cookie: 0, expiring: 0, app: 0, rr: 0, fragile: 0, tcpSticky: 0, tcpHash: 0, routed: 0 };
  let lb: StickylbProcess;
  let admin = 0;
  /** Backend name by endpoint, to compare explain's `chosen` with who answered. */
  const nameOf = new Map<string, string>();

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) web.push(await startHttpBackend(`w${i}`, `127.0.1.${i}`));
    for (let i = 1; i <= 3; i++) app.push(await startHttpBackend(`a${i}`, `127.0.1.${10 + i}`, "jsessionid"));
    for (let i = 1; i <= 2; i++) fragile.push(await startHttpBackend(`f${i}`, `127.0.1.${20 + i}`));
    for (let i = 1; i <= 3; i++) tcp.push(await startTcpBackend(`t${i}`, `127.0.1.${30 + i}`));
    for (let i = 1; i <= 3; i++) udp.push(await startUdpBackend(`u${i}`, `127.0.1.${40 + i}`));
    udpPort = await freeUdpPort();
    for (const b of [...web, ...app, ...fragile, ...tcp, ...udp])
      nameOf.set(`${b.address}:${b.port}`, b.name);
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: explain}
spec:
  listeners:
    - {name: cookie, protocol: HTTP, address: 127.0.0.1, port: ${ports.cookie}, defaultPool: cookie}
    - {name: expiring, protocol: HTTP, address: 127.0.0.1, port: ${ports.expiring}, defaultPool: expiring}
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${ports.app}, defaultPool: app}
    - {name: rr, protocol: HTTP, address: 127.0.0.1, port: ${ports.rr}, defaultPool: rr}
    - {name: fragile, protocol: HTTP, address: 127.0.0.1, port: ${ports.fragile}, defaultPool: fragile}
    - {name: tcp-sticky, protocol: TCP, address: 127.0.0.1, port: ${ports.tcpSticky}, defaultPool: tcp-sticky}
    - {name: tcp-hash, protocol: TCP, address: 127.0.0.1, port: ${ports.tcpHash}, defaultPool: tcp-hash}
    - {name: udp, protocol: UDP, address: 127.0.0.1, port: ${udpPort}, defaultPool: udp}
    - name: routed
      protocol: HTTP
      address: 127.0.0.1
      port: ${ports.routed}
      rules:
        - {host: api.example, path: /v1, pathType: Prefix, pool: rr}
  pools:
    - name: cookie
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE}
      members:
${membersYaml(web)}
    - name: expiring
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 2s}
      members:
${membersYaml(web)}
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID}
      members:
${membersYaml(app)}
    - name: rr
      algorithm: ROUND_ROBIN
      members:
${membersYaml(web)}
    - name: fragile
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE}
      healthMonitor: {type: TCP, delay: 1s, timeout: 500ms, maxRetries: 1, maxRetriesDown: 1}
      members:
${membersYaml(fragile)}
    - name: tcp-sticky
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP}
      members:
${membersYaml(tcp)}
    - name: udp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP}
      members:
${membersYaml(udp)}
    - name: tcp-hash
      algorithm: SOURCE_IP
      members:
${membersYaml(tcp)}
`,
    );
    lb = await runStickylb([file]);
    admin = await lb.adminPort();
  }, 60_000);
  afterAll(async () => {
    await lb?.stop();
    await Promise.all([...web, ...app, ...fragile, ...tcp, ...udp].map((b) => b.close()));
  });

  async function explain(params: Record<string, string>): Promise<{ status: number; body: Explained }> {
    const res = await fetch(`http://127.0.0.1:${admin}/api/v1/explain?${new URLSearchParams(params)}`);
    return { status: res.status, body: (await res.json()) as Explained };
  }

  async function predicted(params: Record<string, string>): Promise<Explained> {
    const answer = await explain(params);
    expect(answer.status).toBe(200);
    expect(answer.body.chosen).not.toBeNull();
    return answer.body;
  }

  const nameOfChosen = (e: Explained): string => nameOf.get(e.chosen!)!;

  it("HTTP_COOKIE without a cookie: a miss on the member the next request gets", async () => {
    for (let i = 0; i < 4; i++) {
      const e = await predicted({ listener: "cookie", client: "127.0.0.1" });
      expect(e).toMatchObject({ listener: "cookie", rule: null, pool: "cookie", result: "miss" });
      expect(e.key).toMatchObject({ type: "HTTP_COOKIE", found: false, decoded: null });
      expect(e.reason).toContain("no STICKYLB cookie");
      const real = await httpGet(ports.cookie);
      expect(real.body.trim()).toBe(nameOfChosen(e));
    }
  });

  it("HTTP_COOKIE with a cookie: a hit on the member it names, with its issue time", async () => {
    const first = await httpGet(ports.cookie);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    const e = await predicted({ listener: "cookie", client: "127.0.0.1", cookie: `x=1; ${pair}` });
    expect(e.result).toBe("hit");
    expect(nameOfChosen(e)).toBe(first.body.trim());
    expect(e.key?.decoded).toMatchObject({ member: e.chosen, expired: false, forged: false });
    expect(Date.now() - Date.parse(e.key!.decoded!.issuedAt!)).toBeLessThan(10_000);
    expect(e.reason).toMatch(
      /^the STICKYLB cookie issued \d+s ago names 127\.0\.1\.\d:\d+, which is eligible/,
    );
    // The prediction holds for several requests in a row (explain moved nothing).
    for (let i = 0; i < 3; i++) {
      await explain({ listener: "cookie", client: "127.0.0.1", cookie: pair });
      expect((await httpGet(ports.cookie, "/", { Cookie: pair })).body.trim()).toBe(nameOfChosen(e));
    }
  });

  it("HTTP_COOKIE past persistenceTimeout: expired, placed afresh where explain said", async () => {
    const first = await httpGet(ports.expiring);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    await sleep(3_100);
    const e = await predicted({ listener: "expiring", client: "127.0.0.1", cookie: pair });
    expect(e.result).toBe("expired");
    expect(e.key?.decoded).toMatchObject({ expired: true, forged: false });
    expect(e.key!.decoded!.ageMs).toBeGreaterThanOrEqual(2_000);
    const real = await httpGet(ports.expiring, "/", { Cookie: pair });
    expect(real.body.trim()).toBe(nameOfChosen(e));
    expect(cookiePair(real.setCookies, "STICKYLB")).not.toBe(pair);
  });

  it("HTTP_COOKIE forged: invalid, forged: true, placed afresh where explain said", async () => {
    const pair = cookiePair((await httpGet(ports.cookie)).setCookies, "STICKYLB")!;
    const forged = pair.slice(0, -1) + (pair.at(-1) === "A" ? "Q" : "A");
    const e = await predicted({ listener: "cookie", client: "127.0.0.1", cookie: forged });
    expect(e.result).toBe("invalid");
    expect(e.key).toMatchObject({ found: true, decoded: { member: null, forged: true } });
    expect(e.reason).toContain("forged");
    expect((await httpGet(ports.cookie, "/", { Cookie: forged })).body.trim()).toBe(nameOfChosen(e));
  });

  it("APP_COOKIE: a miss before the member sets it, a hit on the member that set it after", async () => {
    const miss = await predicted({ listener: "app", client: "127.0.0.1" });
    expect(miss.result).toBe("miss");
    const first = await httpGet(ports.app);
    expect(first.body.trim()).toBe(nameOfChosen(miss));
    const pair = cookiePair(first.setCookies, "JSESSIONID")!;
    const hit = await predicted({ listener: "app", client: "127.0.0.1", cookie: pair });
    expect(hit.result).toBe("hit");
    expect(hit.key).toMatchObject({ type: "APP_COOKIE", found: true, decoded: { member: hit.chosen } });
    expect(nameOfChosen(hit)).toBe(first.body.trim());
    for (let i = 0; i < 3; i++) {
      expect((await httpGet(ports.app, "/", { Cookie: pair })).body.trim()).toBe(nameOfChosen(hit));
    }
    const unknown = await predicted({ listener: "app", client: "127.0.0.1", cookie: "JSESSIONID=never-set" });
    expect(unknown.result).toBe("miss");
    expect(unknown.key).toMatchObject({ found: false });
  });

  it("SOURCE_IP persistence over TCP: a miss, then a hit on the member the connection got", async () => {
    const client = "127.0.0.7";
    const miss = await predicted({ listener: "tcp-sticky", client });
    expect(miss).toMatchObject({ rule: null, result: "miss", key: { type: "SOURCE_IP", found: false } });
    expect(await whoAnswers(ports.tcpSticky, client)).toBe(nameOfChosen(miss));
    const hit = await predicted({ listener: "tcp-sticky", client });
    expect(hit.result).toBe("hit");
    expect(hit.key?.decoded?.member).toBe(miss.chosen);
    expect(hit.key?.decoded?.idleMs).toBeGreaterThanOrEqual(0);
    expect(await whoAnswers(ports.tcpSticky, client)).toBe(nameOfChosen(hit));
    // IPv4-mapped IPv6 is the same client.
    expect((await predicted({ listener: "tcp-sticky", client: `::ffff:${client}` })).chosen).toBe(hit.chosen);
  });

  it("SOURCE_IP persistence over UDP: each new flow goes where explain said, then sticks", async () => {
    for (const client of ["127.0.0.11", "127.0.0.12", "127.0.0.13"]) {
      const miss = await predicted({ listener: "udp", client });
      expect(miss).toMatchObject({ rule: null, result: "miss", key: { type: "SOURCE_IP", found: false } });
      const socket = await udpClient(client);
      try {
        expect(await socket.ask(udpPort, "127.0.0.1", "hi")).toBe(nameOfChosen(miss));
      } finally {
        await socket.close();
      }
      const hit = await predicted({ listener: "udp", client });
      expect(hit.result).toBe("hit");
      expect(hit.chosen).toBe(miss.chosen);
    }
  });

  it("SOURCE_IP algorithm: the consistent hash explain reports is where each client lands", async () => {
    for (let i = 2; i <= 6; i++) {
      const client = `127.0.0.${i}`;
      const e = await predicted({ listener: "tcp-hash", client });
      expect(e.key).toBeNull();
      expect(e.result).toBeNull();
      expect(e.reason).toContain("consistent hash");
      expect(await whoAnswers(ports.tcpHash, client)).toBe(nameOfChosen(e));
    }
  });

  it("round robin without persistence: explain twice does not advance the rotation", async () => {
    for (let i = 0; i < 4; i++) {
      const once = await predicted({ listener: "rr", client: "127.0.0.1" });
      const twice = await predicted({ listener: "rr", client: "127.0.0.1" });
      expect(twice.chosen).toBe(once.chosen);
      expect(once.key).toBeNull();
      expect((await httpGet(ports.rr)).body.trim()).toBe(nameOfChosen(once));
    }
  });

  it("names the rule an HTTP request matches, and says when none does", async () => {
    const e = await predicted({
      listener: "routed",
      client: "127.0.0.1",
      host: "API.example:8080",
      path: "/v1/x?q",
    });
    expect(e.rule).toEqual({ host: "api.example", path: "/v1", pathType: "Prefix" });
    expect(e.pool).toBe("rr");
    const real = await httpGet(ports.routed, "/v1/x?q", { Host: "api.example" });
    expect(real.body.trim()).toBe(nameOfChosen(e));
    const none = await explain({ listener: "routed", client: "127.0.0.1", host: "other", path: "/v1" });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ rule: null, pool: null, chosen: null });
    expect(none.body.reason).toContain("404");
    expect((await httpGet(ports.routed, "/v1", { Host: "other" })).status).toBe(404);
  });

  it("a bound member that is down: redispatch to the member the request then gets", async () => {
    const first = await httpGet(ports.fragile);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    const bound = fragile.find((b) => b.name === first.body.trim())!;
    const other = fragile.find((b) => b !== bound)!;
    await bound.close();
    let e: Explained | undefined;
    for (let i = 0; i < 60; i++) {
      e = await predicted({ listener: "fragile", client: "127.0.0.1", cookie: pair });
      if (e.result === "redispatch") break;
      await sleep(200);
    }
    expect(e?.result).toBe("redispatch");
    expect(nameOfChosen(e!)).toBe(other.name);
    const down = e!.members.find((m) => m.member === `${bound.address}:${bound.port}`)!;
    expect(down.eligible).toBe(false);
    expect(down.why).toMatch(/^unhealthy \(TCP probe: /);
    expect(e!.reason).toContain("redispatch");
    expect((await httpGet(ports.fragile, "/", { Cookie: pair })).body.trim()).toBe(other.name);
  });

  it("changes nothing: bindings, decisions and member counters are the same after 50 explains", async () => {
    await whoAnswers(ports.tcpSticky, "127.0.0.9");
    const first = await httpGet(ports.app);
    const appCookie = cookiePair(first.setCookies, "JSESSIONID")!;
    const counters = async (): Promise<string> => {
      const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      return text
        .split("\n")
        .filter((l) =>
          /^stickylb_(affinity_decisions_total|bindings|member_bindings|member_connections_total|member_active_connections|no_member_total|requests_total|connections_total)/.test(
            l,
          ),
        )
        .join("\n");
    };
    const bindings = async (pool: string, key: string) =>
      (await (
        await fetch(`http://127.0.0.1:${admin}/api/v1/pools/${pool}/bindings?key=${encodeURIComponent(key)}`)
      ).json()) as { idleMs: number | null };
    await sleep(1_100);
    const before = await counters();
    expect(before).toContain("stickylb_affinity_decisions_total");
    const idleBefore = (await bindings("tcp-sticky", "127.0.0.9")).idleMs!;
    const appIdleBefore = (await bindings("app", appCookie.slice("JSESSIONID=".length))).idleMs!;
    for (let i = 0; i < 10; i++) {
      await explain({ listener: "tcp-sticky", client: "127.0.0.9" });
      await explain({ listener: "tcp-sticky", client: `127.0.0.${100 + i}` });
      await explain({ listener: "app", client: "127.0.0.1", cookie: appCookie });
      await explain({ listener: "cookie", client: "127.0.0.1" });
      await explain({ listener: "rr", client: "127.0.0.1" });
    }
    expect(await counters()).toBe(before);
    // The bindings were not touched: their idle time kept growing.
    expect((await bindings("tcp-sticky", "127.0.0.9")).idleMs!).toBeGreaterThanOrEqual(idleBefore);
    expect((await bindings("app", appCookie.slice("JSESSIONID=".length))).idleMs!).toBeGreaterThanOrEqual(
      appIdleBefore,
    );
    expect(idleBefore).toBeGreaterThanOrEqual(1_000);
  });

  it("refuses an unknown listener (404) and a missing or malformed client (400) with a JSON error", async () => {
    const unknown = await explain({ listener: "nope", client: "127.0.0.1" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: expect.stringContaining("nope") });
    const missing = await explain({ listener: "rr" });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: expect.stringContaining("client") });
    for (const client of ["not-an-ip", "127.0.0.256", "127.0.0.1:80"]) {
      const bad = await explain({ listener: "rr", client });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: expect.any(String) });
    }
    const noListener = await explain({ client: "127.0.0.1" });
    expect(noListener.status).toBe(400);
  });
});
