/**
 * A member fails while clients alternate between replicas (docs/shared-state.md, "Consistency"):
 * two real stickylb replicas sharing one real redis-server, SOURCE_IP persistence over TCP. Each
 * client of the failed member is moved in the store before it is forwarded — at placement once a
 * health monitor has marked the member down, or at the retry after a failed connect when no
 * monitor has noticed yet — so both replicas send it to one new member, even when both receive it
 * at the same moment, and although their round-robin positions differ (left to themselves, they
 * would pick different members for most clients).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { membersYaml, type StickylbProcess } from "../support/stickylb-process.js";
import { runStoreReplica } from "../support/store-replica.js";

interface Replica {
  proc: StickylbProcess;
  tcp: number;
}

function failover(how: string, monitor: string, expectDownLog: boolean): void {
  describe(`state store: a member fails while clients alternate replicas (${how})`, () => {
    let redis: RedisServer;
    const backends: TcpBackend[] = [];
    const replicas: Replica[] = [];

    const startReplica = async (): Promise<Replica> => {
      const tcp = await freeTcpPort();
      const proc = await runStoreReplica(
        redis.url,
        `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: failover}
spec:
  listeners:
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcp}, defaultPool: tcp}
  pools:
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
${monitor}      members:
${membersYaml(backends)}
`,
      );
      return { proc, tcp };
    };

    beforeAll(async () => {
      redis = await startRedis();
      for (let i = 1; i <= 4; i++) backends.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
      replicas.push(await startReplica(), await startReplica());
    }, 60_000);

    afterAll(async () => {
      await Promise.all(replicas.map((r) => r.proc.stop()));
      await Promise.all(backends.map((b) => b.close()));
      await redis?.stop();
    });

    it("every client of the failed member moves to one new member on both replicas, even when both place it at once", async () => {
      const [r0, r1] = replicas as [Replica, Replica];
      // 48 clients, each placed once (alternating replicas) and seen by both replicas.
      const ips = Array.from({ length: 48 }, (_, c) => `127.0.0.${10 + c}`);
      const home = new Map<string, string>();
      for (const [c, ip] of ips.entries()) {
        const first = await whoAnswers((c % 2 === 0 ? r0 : r1).tcp, ip);
        expect(await whoAnswers((c % 2 === 0 ? r1 : r0).tcp, ip)).toBe(first);
        home.set(ip, first);
      }
      // One more placement on replica 0: the replicas' round-robin positions now differ.
      await whoAnswers(r0.tcp, "127.0.0.250");
      const failed = backends[0]!;
      const onFailed = ips.filter((ip) => home.get(ip) === failed.name);
      expect(onFailed.length).toBeGreaterThan(3);

      const endpoint = `${failed.address}:${failed.port}`;
      const down = (e: Record<string, unknown>) =>
        e.msg === "member health changed" && e.member === endpoint && e.healthy === false;
      if (expectDownLog) {
        const seenDown = Promise.all(replicas.map((r) => r.proc.waitForLog(down, 15_000)));
        await failed.close();
        await seenDown;
      } else {
        await failed.close();
      }

      // One client of the failed member reaches replica 0 alone first: one more pick there, so the
      // replicas' next picks differ. Then each of the others reaches both replicas at the same
      // moment (without a monitor, both fail their connect and retry it)…
      const [lone, ...rest] = onFailed as [string, ...string[]];
      const loneMember = await whoAnswers(r0.tcp, lone);
      expect(await whoAnswers(r1.tcp, lone)).toBe(loneMember);
      const firsts: string[][] = [];
      for (const ip of rest) firsts.push(await Promise.all([whoAnswers(r0.tcp, ip), whoAnswers(r1.tcp, ip)]));
      for (const [c, ip] of rest.entries()) {
        // …then it alternates between them.
        const after = [...firsts[c]!];
        for (let k = 0; k < 4; k++) after.push(await whoAnswers((k % 2 === 0 ? r1 : r0).tcp, ip));
        expect({ ip, after }).toEqual({ ip, after: after.map(() => after[0]) });
        expect(after[0]).not.toBe(failed.name);
      }
      // Clients of the members still up did not move.
      for (const ip of ips.filter((ip) => home.get(ip) !== failed.name)) {
        expect(await whoAnswers(r1.tcp, ip)).toBe(home.get(ip));
      }
    }, 90_000);
  });
}

failover(
  "a health monitor marked it down: moved at placement",
  "      healthMonitor: {type: TCP, delay: 200ms, timeout: 500ms, maxRetries: 2, maxRetriesDown: 2}\n",
  true,
);
failover("no monitor: moved at the retry after a failed connect", "", false);
