/**
 * Shared stickiness across replicas, end to end: real stickylb processes sharing one real
 * redis-server (docs/shared-state.md).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { LOADED_MACHINE } from "../support/store-replica.js";
import { sleep } from "../support/time.js";

interface Replica {
  proc: StickylbProcess;
  app: number;
  inserted: number;
  tcp: number;
  admin: number;
  file: string;
}

describe("state store: replicas sharing one Redis", () => {
  let redis: RedisServer;
  const http: HttpBackend[] = [];
  const tcp: TcpBackend[] = [];
  const replicas: Replica[] = [];

  const configFor = async (): Promise<Omit<Replica, "proc" | "admin">> => {
    const app = await freeTcpPort();
    const inserted = await freeTcpPort();
    const tcpPort = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: shared}
spec:
  listeners:
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${app}, defaultPool: app}
    - {name: inserted, protocol: HTTP, address: 127.0.0.1, port: ${inserted}, defaultPool: inserted}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: tcp, accessLog: true}
  pools:
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
      members:
${membersYaml(http)}
    - name: inserted
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 1m}
      members:
${membersYaml(http)}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 1m}
      members:
${membersYaml(tcp)}
`,
    );
    return { app, inserted, tcp: tcpPort, file };
  };

  const startReplica = async (): Promise<Replica> => {
    const cfg = await configFor();
    const proc = await runStickylb([cfg.file], ["--state-store", redis.url], LOADED_MACHINE);
    await proc.waitForLog((e) => e.msg === "state store up", 10_000);
    return { ...cfg, proc, admin: await proc.adminPort() };
  };

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 1; i <= 3; i++) http.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`, "jsessionid"));
    for (let i = 1; i <= 3; i++) tcp.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
    for (let i = 0; i < 3; i++) replicas.push(await startReplica());
  }, 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await Promise.all([...http, ...tcp].map((b) => b.close()));
    await redis?.stop();
  });

  const r = (i: number): Replica => replicas[i]!;

  it("APP_COOKIE: a session learnt on one replica is honoured by the others from the very next request", async () => {
    for (let s = 0; s < 6; s++) {
      const first = await httpGet(r(0).app);
      const pair = cookiePair(first.setCookies, "JSESSIONID")!;
      expect(pair).toBeDefined();
      // The next request goes to another replica, which has never seen this session.
      for (const i of [1, 2, 1, 0]) {
        const again = await httpGet(r(i).app, "/", { Cookie: pair });
        expect(again.status).toBe(200);
        expect({ s, i, body: again.body }).toEqual({ s, i, body: first.body });
      }
    }
  });

  it("SOURCE_IP persistence over TCP: a client placed by one replica is placed alike by the others", async () => {
    for (let c = 2; c <= 9; c++) {
      const ip = `127.0.0.${c}`;
      const first = await whoAnswers(r(0).tcp, ip);
      expect(await whoAnswers(r(1).tcp, ip)).toBe(first);
      expect(await whoAnswers(r(2).tcp, ip)).toBe(first);
    }
  });

  it("HTTP_COOKIE without cookieSecret: one key for all replicas, kept across a restart", async () => {
    const pairs: { pair: string; body: string }[] = [];
    for (let s = 0; s < 4; s++) {
      const first = await httpGet(r(0).inserted);
      const pair = cookiePair(first.setCookies, "STICKYLB")!;
      expect(pair).toBeDefined();
      pairs.push({ pair, body: first.body });
      for (const i of [1, 2])
        expect((await httpGet(r(i).inserted, "/", { Cookie: pair })).body).toBe(first.body);
    }
    // A restarted replica has a fresh, empty state folder: its key can only come from the store.
    await r(1).proc.stop();
    replicas[1] = await startReplica();
    for (const { pair, body } of pairs) {
      const again = await httpGet(r(1).inserted, "/", { Cookie: pair });
      expect(again.body).toBe(body);
      // An accepted cookie is not replaced by a new one naming another member.
      expect(again.setCookies.every((c) => !c.startsWith("STICKYLB=") || c.startsWith(pair))).toBe(true);
    }
  }, 30_000);

  it("bindings API: GET reads through the store, DELETE on one replica removes the binding everywhere", async () => {
    const ip = "127.0.0.20";
    const first = await whoAnswers(r(0).tcp, ip);
    // Replica 2 never saw this client: the API answers from the store.
    const seen = await httpGet(r(2).admin, `/api/v1/pools/tcp/bindings?key=${ip}`);
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body).member).toBe(
      tcp.find((b) => b.name === first)!.address + `:${tcp.find((b) => b.name === first)!.port}`,
    );
    const del = await httpGet(r(1).admin, `/api/v1/pools/tcp/bindings?key=${ip}`, {}, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(JSON.parse(del.body).deleted).toBe(true);
    expect(await redis.cli("--scan", "--pattern", `stickylb:binding:tcp:${ip}`)).toBe("");
    // The invalidation reaches the replica that had cached it.
    await sleep(200);
    for (const i of [0, 1, 2]) {
      expect((await httpGet(r(i).admin, `/api/v1/pools/tcp/bindings?key=${ip}`)).status).toBe(404);
    }
    // Its next connection on replica 2 is placed afresh (a miss, not a hit of a stale copy).
    await whoAnswers(r(2).tcp, ip);
    const line = await r(2).proc.waitForLog((e) => e.client === ip && e.listener === "tcp", 5000);
    expect(line.affinity).toBe("miss");
  });

  it("admin: /metrics has the store series, /api/v1/status its masked URL and state", async () => {
    const metrics = (await httpGet(r(0).admin, "/metrics")).body;
    expect(metrics).toMatch(/^stickylb_state_store_up 1$/m);
    expect(metrics).toMatch(/^stickylb_state_store_operations_total\{op="bind",result="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^stickylb_state_store_latency_seconds_count [1-9]/m);
    const status = JSON.parse((await httpGet(r(0).admin, "/api/v1/status")).body);
    expect(status.stateStore).toEqual({ url: redis.url, up: true });
  });

  it("Redis SIGKILLed under load: no client-visible error, /readyz 200; restarted empty, the bindings are written back", async () => {
    const sessions: { pair: string; body: string }[] = [];
    for (let s = 0; s < 5; s++) {
      const first = await httpGet(r(0).app);
      sessions.push({ pair: cookiePair(first.setCookies, "JSESSIONID")!, body: first.body });
    }
    let stop = false;
    const errors: string[] = [];
    let requests = 0;
    const load = (async () => {
      while (!stop) {
        for (const { pair, body } of sessions) {
          for (const i of [0, 1, 2]) {
            try {
              const a = await httpGet(r(i).app, "/", { Cookie: pair });
              requests++;
              if (a.status !== 200 || a.body !== body)
                errors.push(`replica ${i}: ${a.status} ${a.body.trim()}`);
            } catch (e) {
              errors.push(`replica ${i}: ${(e as Error).message}`);
            }
          }
        }
      }
    })();
    await sleep(300);
    const beforeKill = requests;
    await redis.stop("SIGKILL");
    await r(0).proc.waitForLog(
      (e) => typeof e.msg === "string" && e.msg.startsWith("state store down"),
      10_000,
    );
    await sleep(500);
    for (const i of [0, 1, 2]) expect((await httpGet(r(i).admin, "/readyz")).status).toBe(200);
    const down = JSON.parse((await httpGet(r(0).admin, "/api/v1/status")).body);
    expect(down.stateStore.up).toBe(false);
    // A new session while the store is down: placed and bound locally, written back later.
    const during = await httpGet(r(0).app);
    const duringPair = cookiePair(during.setCookies, "JSESSIONID")!;
    const duringOutage = requests;
    // A fresh, empty server; the replicas may reconnect and write back at once.
    await redis.restart();
    // Every replica reconnects (backoff at most 5 s) and writes back what it has.
    const deadline = Date.now() + 15_000;
    let keys = 0;
    while (Date.now() < deadline) {
      keys = Number(
        await redis.cli("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "stickylb:binding:app:*"),
      );
      if (keys >= sessions.length + 1) break;
      await sleep(200);
    }
    // Traffic goes on after the store is back.
    const afterRestart = requests;
    await sleep(500);
    stop = true;
    await load;
    expect(errors).toEqual([]);
    // The load really ran before the kill, through the outage and after the restart.
    expect(beforeKill).toBeGreaterThan(0);
    expect(duringOutage).toBeGreaterThan(beforeKill);
    expect(requests).toBeGreaterThan(afterRestart);
    expect(keys).toBeGreaterThanOrEqual(sessions.length + 1);
    // The session made during the outage is written back by its replica, then honoured by the
    // others through the store.
    const storedKey = `stickylb:binding:app:${createHash("sha256").update(duringPair.split("=")[1]!).digest("base64url")}`;
    const writtenBy = Date.now() + 15_000;
    while (Date.now() < writtenBy && (await redis.cli("EXISTS", storedKey)) !== "1") await sleep(100);
    expect((await httpGet(r(2).app, "/", { Cookie: duringPair })).body).toBe(during.body);
  }, 60_000);
});

describe("state store unreachable at start", () => {
  it("starts anyway, degraded: one log line, /readyz 200, the store shown down", async () => {
    const backend = await startHttpBackend("only", "127.0.1.1", "jsessionid");
    const port = await freeTcpPort();
    const nowhere = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: degraded}
spec:
  stateStore: {url: "redis://127.0.0.1:${nowhere}", keyPrefix: "degraded:"}
  listeners:
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: app}
  pools:
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
      members:
${membersYaml([backend])}
`,
    );
    const proc = await runStickylb([file], [], LOADED_MACHINE);
    try {
      await proc.waitForLog((e) => typeof e.msg === "string" && e.msg.startsWith("state store down"), 10_000);
      const admin = await proc.adminPort();
      expect((await httpGet(admin, "/readyz")).status).toBe(200);
      const first = await httpGet(port);
      expect(first.status).toBe(200);
      const pair = cookiePair(first.setCookies, "JSESSIONID")!;
      expect((await httpGet(port, "/", { Cookie: pair })).body).toBe(first.body);
      const status = JSON.parse((await httpGet(admin, "/api/v1/status")).body);
      expect(status.stateStore).toEqual({ url: `redis://127.0.0.1:${nowhere}`, up: false });
      expect((await httpGet(admin, "/metrics")).body).toMatch(/^stickylb_state_store_up 0$/m);
      const downLines = proc
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"state store down'));
      expect(downLines).toHaveLength(1);
    } finally {
      await proc.stop();
      await backend.close();
    }
  }, 30_000);
});
