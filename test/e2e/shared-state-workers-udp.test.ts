/**
 * The state store with `--workers 2` (each worker opens the store) and with UDP (a new flow's
 * first datagrams wait for the store's answer), against a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort, freeUdpPort } from "../support/ports.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { LOADED_MACHINE } from "../support/store-replica.js";
import { startUdpBackend, type UdpBackend, udpClient } from "../support/udp-backends.js";

interface Replica {
  proc: StickylbProcess;
  http: number;
  udp: number;
}

describe("state store with --workers and UDP", () => {
  let redis: RedisServer;
  const http: HttpBackend[] = [];
  const udp: UdpBackend[] = [];
  let workers: Replica;
  let single: Replica;

  const start = async (extra: string[]): Promise<Replica> => {
    const httpPort = await freeTcpPort();
    const udpPort = await freeUdpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: shared-workers}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${httpPort}, defaultPool: web}
    - {name: dns, protocol: UDP, address: 127.0.0.1, port: ${udpPort}, defaultPool: dns}
  pools:
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
      members:
${membersYaml(http)}
    - name: dns
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 1m}
      members:
${membersYaml(udp)}
`,
    );
    const proc = await runStickylb([file], ["--state-store", redis.url, ...extra], LOADED_MACHINE);
    return { proc, http: httpPort, udp: udpPort };
  };

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 1; i <= 3; i++) http.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`, "jsessionid"));
    for (let i = 1; i <= 3; i++) udp.push(await startUdpBackend(`u${i}`, `127.0.1.${i}`));
    workers = await start(["--workers", "2"]);
    single = await start([]);
    // Every process has reached the store (the primary of --workers opens none).
    await single.proc.waitForLog((e) => e.msg === "state store up", 10_000);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ups = workers.proc
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"msg":"state store up"')).length;
      if (ups >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  afterAll(async () => {
    await workers?.proc.stop();
    await single?.proc.stop();
    await Promise.all([...http, ...udp].map((b) => b.close()));
    await redis?.stop();
  });

  it("each worker opens the store: two connections from the --workers process, sessions shared both ways", async () => {
    const ups = workers.proc
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"msg":"state store up"'));
    expect(ups.length).toBeGreaterThanOrEqual(2);
    for (const [from, to] of [
      [workers, single],
      [single, workers],
    ] as const) {
      for (let s = 0; s < 4; s++) {
        const first = await httpGet(from.http);
        const pair = cookiePair(first.setCookies, "JSESSIONID")!;
        // What this test checks is that every worker shares through the store, not how fast a
        // write leaves a loaded machine (shared-state.test.ts checks the very next request).
        await new Promise((r) => setTimeout(r, 100));
        for (let i = 0; i < 3; i++)
          expect((await httpGet(to.http, "/", { Cookie: pair })).body).toBe(first.body);
      }
    }
  });

  it("UDP SOURCE_IP persistence: a new flow on another replica reaches the same member, its first datagrams all relayed", async () => {
    for (let c = 30; c < 36; c++) {
      const ip = `127.0.0.${c}`;
      const a = await udpClient(ip);
      const first = await a.ask(single.udp);
      await a.close();
      const b = await udpClient(ip);
      try {
        // Several datagrams at once on a new flow: queued while the store is asked, none lost.
        const replies: string[] = [];
        const got = new Promise<void>((resolve) => {
          b.socket.on("message", (m) => {
            replies.push(m.toString());
            if (replies.length === 5) resolve();
          });
        });
        for (let i = 0; i < 5; i++) b.socket.send(`q${i}`, workers.udp, "127.0.0.1");
        await Promise.race([got, new Promise((r) => setTimeout(r, 3000))]);
        expect(replies).toEqual([first, first, first, first, first]);
      } finally {
        await b.close();
      }
    }
  });
});
