/**
 * "From the very next request or connection" (docs/shared-state.md, "Consistency"): real stickylb
 * replicas sharing one real redis-server, clients alternating between them with no wait at all.
 * A new client's placement is claimed in the store before its first byte is relayed, and a
 * response that teaches an APP_COOKIE binding is held until the store has it, so the very next
 * request — sent the moment the response head arrives, to the other replica — finds the binding.
 * Policies are ROUND_ROBIN, whose positions differ between replicas: without the store, the
 * replicas would disagree about most clients.
 */
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { membersYaml, type StickylbProcess } from "../support/stickylb-process.js";
import { runStoreReplica } from "../support/store-replica.js";

interface Replica {
  proc: StickylbProcess;
  app: number;
  web: number;
  tcp: number;
}

interface Head {
  status: number;
  setCookies: string[];
  /** Resolves with the body (the member's name) once it has arrived. */
  body: Promise<string>;
}

/**
 * One request on a fresh connection from `localAddress`; resolves as soon as the response *head*
 * arrives, so that the caller can send its next request before this body is even read.
 */
function requestHead(
  port: number,
  localAddress: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<Head> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/", localAddress, headers, agent: false },
      (res) => {
        res.setEncoding("utf8");
        let text = "";
        const body = new Promise<string>((done, fail) => {
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => done(text.trim()));
          res.on("error", fail);
        });
        resolve({ status: res.statusCode ?? 0, setCookies: res.headers["set-cookie"] ?? [], body });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("state store: the very next request or connection, on another replica", () => {
  let redis: RedisServer;
  const http3: HttpBackend[] = [];
  const tcp3: TcpBackend[] = [];
  const replicas: Replica[] = [];

  const startReplica = async (): Promise<Replica> => {
    const [app, web, tcp] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
    const proc = await runStoreReplica(
      redis.url,
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: strict}
spec:
  listeners:
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${app}, defaultPool: app}
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${web}, defaultPool: web}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcp}, defaultPool: tcp}
  pools:
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 5m}
      members:
${membersYaml(http3)}
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${membersYaml(http3)}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${membersYaml(tcp3)}
`,
    );
    return { proc, app, web, tcp };
  };

  beforeAll(async () => {
    redis = await startRedis(["--enable-debug-command", "local"]);
    for (let i = 1; i <= 3; i++) http3.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`, "jsessionid"));
    for (let i = 1; i <= 3; i++) tcp3.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
    replicas.push(await startReplica(), await startReplica());
  }, 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await Promise.all([...http3, ...tcp3].map((b) => b.close()));
    await redis?.stop();
  });

  const r = (i: number): Replica => replicas[i % 2]!;

  it("APP_COOKIE: the request right after the learning response goes to the other replica and reaches the same member", async () => {
    // 16 clients at once × 6 sessions each; every session is learnt on one replica and its very
    // next request (sent when the head arrives) goes to the other, then they keep alternating.
    const client = async (c: number): Promise<void> => {
      for (let s = 0; s < 6; s++) {
        const from = `127.0.0.${50 + c}`;
        const first = await requestHead(r(c + s).app, from);
        expect(first.status).toBe(200);
        const pair = cookiePair(first.setCookies, "JSESSIONID");
        expect(pair).toBeDefined();
        const next = requestHead(r(c + s + 1).app, from, { Cookie: pair! });
        const member = await first.body;
        expect(pair!.startsWith(`JSESSIONID=${member}-`)).toBe(true);
        const answers = [await (await next).body];
        for (let k = 2; k < 6; k++)
          answers.push(await (await requestHead(r(c + s + k).app, from, { Cookie: pair! })).body);
        expect({ c, s, answers }).toEqual({ c, s, answers: answers.map(() => member) });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
  }, 60_000);

  it("SOURCE_IP over TCP: each connection of a new client alternates replicas and stays on its first member", async () => {
    const client = async (c: number): Promise<void> => {
      const ip = `127.0.0.${100 + c}`;
      const answers: string[] = [];
      for (let k = 0; k < 8; k++) answers.push(await whoAnswers(r(c + k).tcp, ip));
      expect({ ip, answers }).toEqual({ ip, answers: answers.map(() => answers[0]) });
    };
    await Promise.all(Array.from({ length: 40 }, (_, c) => client(c)));
  }, 60_000);

  it("SOURCE_IP over HTTP: each request of a new client alternates replicas and stays on its first member", async () => {
    const client = async (c: number): Promise<void> => {
      const ip = `127.0.0.${150 + c}`;
      const answers: string[] = [];
      for (let k = 0; k < 8; k++) answers.push(await (await requestHead(r(c + k).web, ip)).body);
      expect({ ip, answers }).toEqual({ ip, answers: answers.map(() => answers[0]) });
    };
    await Promise.all(Array.from({ length: 40 }, (_, c) => client(c)));
  }, 60_000);

  it("two replicas receiving the same new client at the same moment place it on one member", async () => {
    // One more placement on replica 0: from here on the two round-robin positions differ, so the
    // replicas, left to themselves, would place every new client on different members.
    await whoAnswers(r(0).tcp, "127.0.0.245");
    await (await requestHead(r(0).web, "127.0.0.245")).body;
    for (let c = 0; c < 40; c++) {
      const ip = `127.0.0.${200 + c}`;
      const [tcpA, tcpB] = await Promise.all([whoAnswers(r(0).tcp, ip), whoAnswers(r(1).tcp, ip)]);
      const [webA, webB] = await Promise.all([requestHead(r(0).web, ip), requestHead(r(1).web, ip)]);
      expect({ ip, tcp: tcpB, web: await webB.body }).toEqual({ ip, tcp: tcpA, web: await webA.body });
      // And it stays there on both.
      expect(await whoAnswers(r(1).tcp, ip)).toBe(tcpA);
      expect(await whoAnswers(r(0).tcp, ip)).toBe(tcpA);
    }
  }, 60_000);

  it("only a response that teaches a binding waits for the store; a returning client never does", async () => {
    const from = "127.0.0.246";
    const learnt = await requestHead(r(0).app, from);
    const pair = cookiePair(learnt.setCookies, "JSESSIONID")!;
    const member = await learnt.body;
    // Cached on both replicas now.
    expect(await (await requestHead(r(1).app, from, { Cookie: pair })).body).toBe(member);
    // The store stops answering for 1.5 s (its budget here is 3 s: LOADED_MACHINE in support/store-replica.ts).
    const blocked = redis.cli("DEBUG", "SLEEP", "1.5");
    await new Promise((res) => setTimeout(res, 100));
    const started = performance.now();
    const newSession = requestHead(r(0).app, "127.0.0.247").then((h) => ({
      h,
      at: performance.now() - started,
    }));
    for (const i of [0, 1, 0, 1]) {
      const t = performance.now();
      expect(await (await requestHead(r(i).app, from, { Cookie: pair })).body).toBe(member);
      // Served from the local cache while the store sleeps: no wait for it (a generous bound).
      expect(performance.now() - t).toBeLessThan(1000);
    }
    const fresh = await newSession;
    // The learning response waited for the store's acknowledgement, which came after the sleep.
    expect(fresh.at).toBeGreaterThan(1000);
    expect(cookiePair(fresh.h.setCookies, "JSESSIONID")).toBeDefined();
    await blocked;
  }, 30_000);
});
