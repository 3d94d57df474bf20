/**
 * A WebSocket session whose APP_COOKIE is set on the `101` answer, across replicas sharing one real
 * redis-server (docs/shared-state.md, "Consistency"): the 101 is held until the store has the
 * binding, so the client's very next request — sent the moment the 101 arrives, to the other
 * replica — reaches the same member. The replica that learns the sessions reaches the store over a
 * link that delays its writes by 300 ms: a 101 that did not wait would let the next request reach
 * the store first. With the store asleep (SIGSTOP) the 101 still comes, after at most the store's
 * budget, and the WebSocket works. Policies are ROUND_ROBIN, whose positions differ between
 * replicas: without the store, the replicas would disagree about most sessions.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { cookiePair } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisServer, startRedis, startSlowProxy } from "../support/redis.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { LOADED_MACHINE } from "../support/store-replica.js";

/** The store's budget (50 ms) plus a generous margin for a loaded machine. */
const BUDGET_PLUS_MARGIN_MS = 50 + 1500;

interface WsBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A member whose WebSocket endpoint sets `JSESSIONID=NAME-N` on its 101, greets with its name and
 * echoes `NAME:message`; a plain request is answered with its name.
 */
async function startWsBackend(name: string, address: string): Promise<WsBackend> {
  const server = http.createServer((_req, res) => res.end(`${name}\n`));
  const wss = new WebSocketServer({ server });
  let sessions = 0;
  wss.on("headers", (headers) => headers.push(`Set-Cookie: JSESSIONID=${name}-${++sessions}; Path=/`));
  wss.on("connection", (socket) => {
    socket.send(`hello from ${name}`);
    socket.on("message", (data) => socket.send(`${name}:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen({ host: address, port: 0 }, resolve));
  return {
    name,
    address,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plain request from `localAddress`; resolves with the body (the member's name). */
function get(port: number, localAddress: string, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/", localAddress, headers: { Cookie: cookie }, agent: false },
      (res) => {
        res.setEncoding("utf8");
        let text = "";
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve(text.trim()));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

interface Session {
  readonly socket: WebSocket;
  /** The session cookie the 101 carried (`JSESSIONID=…`). */
  readonly pair: string;
  /** When the 101 arrived (ms after the WebSocket was opened). */
  readonly upgradedAfterMs: number;
  /** What was started the moment the 101 arrived. */
  readonly next: Promise<string> | undefined;
  readonly greeting: string;
}

/**
 * Opens a WebSocket from `localAddress`; `onUpgrade(pair)` runs the moment the 101 arrives, before
 * the first message is even read.
 */
function openSession(
  port: number,
  localAddress: string,
  onUpgrade?: (pair: string) => Promise<string>,
): Promise<Session> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = new WebSocket(`ws://127.0.0.1:${port}/chat`, { localAddress });
    let pair = "";
    let upgradedAfterMs = 0;
    let next: Promise<string> | undefined;
    socket.once("upgrade", (res) => {
      upgradedAfterMs = performance.now() - started;
      pair = cookiePair(res.headers["set-cookie"] ?? [], "JSESSIONID") ?? "";
      next = onUpgrade?.(pair);
      // Never an unhandled rejection; the caller awaits it.
      next?.catch(() => {});
    });
    socket.once("message", (data) =>
      resolve({ socket, pair, upgradedAfterMs, next, greeting: data.toString() }),
    );
    socket.once("error", reject);
  });
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once("message", (data) => resolve(data.toString())));
}

describe("state store: a WebSocket's session cookie set on its 101", () => {
  let redis: RedisServer;
  const backends: WsBackend[] = [];
  const replicas: { proc: StickylbProcess; port: number }[] = [];

  let slowLink: { port: number; close(): Promise<void> } | undefined;

  const startReplica = async (
    env: NodeJS.ProcessEnv,
    storeUrl = redis.url,
  ): Promise<{ proc: StickylbProcess; port: number }> => {
    const port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: ws}
spec:
  listeners:
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: app}
  pools:
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 5m}
      members:
${membersYaml(backends)}
`,
    );
    const proc = await runStickylb([file], ["--state-store", storeUrl], env);
    await proc.waitForLog((e) => e.msg === "state store up", 10_000);
    return { proc, port };
  };

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 1; i <= 3; i++) backends.push(await startWsBackend(`b${i}`, `127.0.1.${i}`));
    slowLink = await startSlowProxy(redis.port, 300, "requests");
    // Two replicas with a long budget (the consistency test; the first one's writes reach the
    // store 300 ms late), one with the default 50 ms.
    replicas.push(
      await startReplica(LOADED_MACHINE, `redis://127.0.0.1:${slowLink.port}`),
      await startReplica(LOADED_MACHINE),
    );
    replicas.push(await startReplica({}));
  }, 60_000);

  afterAll(async () => {
    redis?.signal("SIGCONT");
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await Promise.all(backends.map((b) => b.close()));
    await slowLink?.close();
    await redis?.stop();
  });

  const port = (i: number): number => replicas[i % 2]!.port;

  it("the request sent the moment the 101 arrives, to the other replica, reaches the same member", async () => {
    // 12 clients at once × 4 sessions each; each session is opened on the replica with the slow
    // link and its very next request goes to the other, then they keep alternating.
    // One more placement on the second replica: from here on the two round-robin positions differ,
    // so the replicas, left to themselves, would place a session's requests on different members.
    await get(port(1), "127.0.0.59", "unrelated=1");
    const client = async (c: number): Promise<void> => {
      const from = `127.0.0.${60 + c}`;
      for (let s = 0; s < 4; s++) {
        const session = await openSession(port(0), from, (pair) => get(port(1), from, pair));
        const member = session.greeting.replace("hello from ", "");
        expect(session.pair.startsWith(`JSESSIONID=${member}-`)).toBe(true);
        const answers = [await session.next!];
        for (let k = 2; k < 5; k++) answers.push(await get(port(k), from, session.pair));
        expect({ c, s, answers }).toEqual({ c, s, answers: answers.map(() => member) });
        session.socket.send("ping");
        expect(await nextMessage(session.socket)).toBe(`${member}:ping`);
        session.socket.close();
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, c) => client(c)));
  }, 60_000);

  it("with the store asleep (SIGSTOP) the 101 still comes within the budget and the WebSocket works", async () => {
    const replica = replicas[2]!;
    // Through the store once first, so that the wait below is the store's silence, not a start.
    const warm = await openSession(replica.port, "127.0.0.90");
    warm.socket.close();
    redis.signal("SIGSTOP");
    try {
      for (let i = 0; i < 3; i++) {
        const session = await openSession(replica.port, `127.0.0.${91 + i}`);
        expect(session.upgradedAfterMs).toBeLessThan(BUDGET_PLUS_MARGIN_MS);
        const member = session.greeting.replace("hello from ", "");
        expect(session.pair.startsWith(`JSESSIONID=${member}-`)).toBe(true);
        session.socket.send("still here");
        expect(await nextMessage(session.socket)).toBe(`${member}:still here`);
        // The same replica knows the session from its own table meanwhile.
        expect(await get(replica.port, `127.0.0.${91 + i}`, session.pair)).toBe(member);
        session.socket.close();
      }
    } finally {
      redis.signal("SIGCONT");
    }
  }, 30_000);
});
