/**
 * Shared stickiness through a Redis Cluster, end to end: a 3-master cluster created by the test
 * (`redis-server --cluster-enabled yes` ×3 + `redis-cli --cluster create`), two real stickylb
 * processes with `--state-store redis+cluster://…` (docs/shared-state.md). Bindings spread over
 * the masters' slots; claims, compare-and-set writes, the cookie key and the invalidation channel
 * all work across nodes.
 */
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisCluster, startRedisCluster } from "../support/redis.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";
import { LOADED_MACHINE } from "../support/store-replica.js";
import { sleep } from "../support/time.js";

interface Replica {
  proc: StickylbProcess;
  admin: number;
  app: number;
  inserted: number;
  tcp: number;
  file: string;
}

describe("state store: two replicas sharing a 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  const http3: HttpBackend[] = [];
  const tcp3: TcpBackend[] = [];
  const replicas: Replica[] = [];

  /** The configuration; `tcpWeights` lets one replica take a member out (weight 0) on its own. */
  const yaml = (p: Omit<Replica, "proc" | "admin" | "file">, tcpWeights = [1, 1, 1]): string => {
    const members = (list: readonly { address: string; port: number }[], weights?: number[]) =>
      list
        .map((m, i) => `        - {address: ${m.address}, port: ${m.port}, weight: ${weights?.[i] ?? 1}}`)
        .join("\n");
    return `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: cluster}
spec:
  listeners:
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${p.app}, defaultPool: app}
    - {name: inserted, protocol: HTTP, address: 127.0.0.1, port: ${p.inserted}, defaultPool: inserted}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${p.tcp}, defaultPool: tcp}
  pools:
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 5m}
      members:
${members(http3)}
    - name: inserted
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 5m}
      members:
${members(http3)}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${members(tcp3, tcpWeights)}
`;
  };

  const startReplica = async (): Promise<Replica> => {
    const ports = { app: await freeTcpPort(), inserted: await freeTcpPort(), tcp: await freeTcpPort() };
    const file = writeConfig(tempDir(), "lb.yaml", yaml(ports));
    const proc = await runStickylb([file], ["--state-store", cluster.url], LOADED_MACHINE);
    await proc.waitForLog((e) => e.msg === "state store up", 20_000);
    return { ...ports, file, proc, admin: await proc.adminPort() };
  };

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    for (let i = 1; i <= 3; i++) http3.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`, "jsessionid"));
    for (let i = 1; i <= 3; i++) tcp3.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
    replicas.push(await startReplica(), await startReplica());
  }, 90_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await Promise.all([...http3, ...tcp3].map((b) => b.close()));
    await cluster?.stop();
  });

  const r = (i: number): Replica => replicas[i % 2]!;

  it("APP_COOKIE: a session learnt on one replica is honoured by the other from the very next request", async () => {
    for (let s = 0; s < 12; s++) {
      const first = await httpGet(r(s).app);
      const pair = cookiePair(first.setCookies, "JSESSIONID");
      expect(pair).toBeDefined();
      for (let k = 1; k <= 4; k++) {
        const again = await httpGet(r(s + k).app, "/", { Cookie: pair! });
        expect({ s, k, body: again.body }).toEqual({ s, k, body: first.body });
      }
    }
  });

  it("SOURCE_IP: connections alternating replicas stay on the first member; keys spread over every master", async () => {
    for (let c = 0; c < 30; c++) {
      const ip = `127.0.0.${60 + c}`;
      const first = await whoAnswers(r(c).tcp, ip);
      for (let k = 1; k <= 3; k++)
        expect({ ip, k, at: await whoAnswers(r(c + k).tcp, ip) }).toEqual({ ip, k, at: first });
    }
    // The keys of both pools are on every master, not piled on one node.
    const perNode: number[] = [];
    for (const node of cluster.nodes) {
      const keys = (await node.cli("--scan", "--pattern", "stickylb:binding:*"))
        .split("\n")
        .filter((l) => l !== "");
      perNode.push(keys.length);
      expect(keys.some((k) => k.startsWith("stickylb:binding:tcp:"))).toBe(true);
    }
    expect(perNode.every((n) => n > 0)).toBe(true);
    const slotOf = async (key: string) => Number(await cluster.nodes[0]!.cli("CLUSTER", "KEYSLOT", key));
    expect(await slotOf("stickylb:binding:tcp:127.0.0.60")).not.toBe(await slotOf("stickylb:binding:app:x"));
  });

  it("HTTP_COOKIE without cookieSecret: one key in the cluster, each replica accepts the other's cookies", async () => {
    for (let s = 0; s < 4; s++) {
      const first = await httpGet(r(s).inserted);
      const pair = cookiePair(first.setCookies, "STICKYLB");
      expect(pair).toBeDefined();
      const again = await httpGet(r(s + 1).inserted, "/", { Cookie: pair! });
      expect(again.body).toBe(first.body);
      expect(again.setCookies.every((c) => !c.startsWith("STICKYLB=") || c.startsWith(pair!))).toBe(true);
    }
    // Asked through any node (-c follows MOVED to the key's master): the key is there, 32 bytes.
    expect(await cluster.nodes[0]!.cli("-c", "STRLEN", "stickylb:cookie-key")).toBe("32");
  });

  it("a rebind on one replica reaches the other's cache through the cluster-wide invalidation", async () => {
    const ip = "127.0.0.120";
    const first = await whoAnswers(r(0).tcp, ip);
    expect(await whoAnswers(r(1).tcp, ip)).toBe(first);
    // Replica 0 alone takes that member out (weight 0): it places the client afresh and rebinds it.
    const out = tcp3.findIndex((b) => b.name === first);
    const weights = [1, 1, 1];
    weights[out] = 0;
    const { app, inserted, tcp } = r(0);
    writeFileSync(r(0).file, yaml({ app, inserted, tcp }, weights));
    const reloads = r(0).proc.stdout().split("configuration reloaded").length;
    r(0).proc.child.kill("SIGHUP");
    for (let t = 0; t < 200 && r(0).proc.stdout().split("configuration reloaded").length === reloads; t++)
      await sleep(25);
    const moved = await whoAnswers(r(0).tcp, ip);
    expect(moved).not.toBe(first);
    // Replica 1 still has the old member eligible and cached: the invalidation replaces its copy.
    let onOne = "";
    for (let t = 0; t < 100; t++) {
      onOne = await whoAnswers(r(1).tcp, ip);
      if (onOne === moved) break;
      await sleep(50);
    }
    expect(onOne).toBe(moved);
    const stored = await cluster.nodes[2]!.cli("-c", "GET", `stickylb:binding:tcp:${ip}`);
    const movedBackend = tcp3.find((b) => b.name === moved)!;
    expect(stored).toBe(`${movedBackend.address}:${movedBackend.port}`);
  });
});
