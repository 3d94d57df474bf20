import { spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigModel, ListenerModel, PoolModel } from "../../src/core/model.js";
import { KernelDataPlane, type MemberHealth } from "../../src/kernel/kernel-data-plane.js";
import {
  BACKEND_PORT,
  type ClientAnswer,
  createLab,
  type Lab,
  netnsUnavailable,
  VIP,
  VIP6,
} from "../support/netns.js";

/**
 * The nftables plane against the real kernel, inside namespaces this file creates (see
 * test/support/netns.ts): real TCP/UDP backends, real clients from distinct source addresses, the
 * ruleset applied through KernelDataPlane in the LB namespace. No stickylb process moves a byte.
 */
const unavailable = netnsUnavailable();
const source = { file: "lb.yaml", object: "LoadBalancer/k" };

function listener(
  name: string,
  protocol: "TCP" | "UDP",
  port: number,
  pool: string,
  extra: Partial<ListenerModel> = {},
): ListenerModel {
  return {
    name,
    protocol,
    address: VIP,
    port,
    defaultPool: pool,
    rules: [],
    tls: [],
    proxyProtocol: false,
    timeouts: { idleMs: 300_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
    maxFlows: 1000,
    accessLog: false,
    source,
    ...extra,
  };
}

function pool(
  name: string,
  addresses: readonly string[],
  extra: Partial<PoolModel> = {},
  weights: number[] = [],
): PoolModel {
  return {
    name,
    algorithm: "ROUND_ROBIN",
    members: addresses.map((address, i) => ({
      address,
      port: BACKEND_PORT,
      weight: weights[i] ?? 1,
      draining: false,
    })),
    source,
    ...extra,
  };
}

const persistence = (ms: number) => ({
  type: "SOURCE_IP" as const,
  persistenceTimeoutMs: ms,
  cookieName: "",
  cookie: { path: "/", domain: "", sameSite: "Lax" as const, secure: "auto" as const, httpOnly: true },
  maxBindings: 10_000,
});

const allHealthy: MemberHealth = () => true;
const byClient = (answers: readonly ClientAnswer[]) => new Map(answers.map((a) => [a.source, a.member]));

describe.skipIf(unavailable !== undefined)(
  `nftables data plane in network namespaces${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let lab: Lab;
    let plane: KernelDataPlane;
    const table = `slbtest${process.pid}`;

    beforeAll(async () => {
      lab = await createLab(40, 3);
      plane = new KernelDataPlane({ table, command: lab.inside(lab.lb, ["nft"]) });
      await plane.start();
    }, 60_000);

    afterAll(async () => {
      try {
        await plane?.close();
      } finally {
        lab?.destroy();
      }
    });

    const tcpFromAll = (port: number, times = 1) =>
      lab.clients(
        lab.clientAddresses.flatMap((s) =>
          Array.from({ length: times }, () => ({ source: s, protocol: "tcp" as const, port })),
        ),
      );

    it("SOURCE_IP: every client address keeps one member over TCP and UDP, members share the clients, replies come from the listener", async () => {
      const backends = lab.backendAddresses;
      const model: ConfigModel = {
        listeners: [listener("hash-tcp", "TCP", 80, "hash"), listener("hash-udp", "UDP", 53, "hash")],
        pools: [pool("hash", backends, { algorithm: "SOURCE_IP" })],
      };
      expect(await plane.apply(model, allHealthy)).toEqual({
        kernel: ["hash-tcp", "hash-udp"],
        userspace: [],
      });
      const answers = await tcpFromAll(80, 3);
      expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
      const first = byClient(answers);
      for (const a of answers) expect(a.member).toBe(first.get(a.source));
      expect(new Set(first.values()).size).toBe(3);
      // Members see the load balancer's address (masquerade), not the client's.
      expect(new Set(answers.map((a) => a.seenFrom))).toEqual(new Set(["10.77.2.1"]));
      const udp = await lab.clients(
        lab.clientAddresses.map((s) => ({ source: s, protocol: "udp" as const, port: 53 })),
      );
      for (const a of udp) {
        expect(a.error).toBeUndefined();
        expect(a.replyFrom).toBe(VIP);
        expect(a.member).toBe(first.get(a.source)); // one Maglev map per pool, whatever the protocol
      }
      expect(await plane.connectionsTotal("hash-tcp")).toBe(120);
      expect(await plane.connectionsTotal("hash-udp")).toBe(40);
    });

    it("SOURCE_IP: a removed member's clients move, the others stay, and a connection to it continues", async () => {
      const backends = lab.backendAddresses;
      const model = (members: readonly string[]): ConfigModel => ({
        listeners: [listener("hash-tcp", "TCP", 80, "hash")],
        pools: [pool("hash", members, { algorithm: "SOURCE_IP" })],
      });
      await plane.apply(model(backends), allHealthy);
      const before = byClient(await tcpFromAll(80));
      const gone = `${backends[0]}:${BACKEND_PORT}`;
      const goneClient = [...before].find(([, m]) => m === gone)![0];
      const open = await longLived(lab, goneClient, 80);
      expect(open.first).toContain(gone);

      await plane.apply(model(backends.slice(1)), allHealthy);
      const after = byClient(await tcpFromAll(80));
      let others = 0;
      let moved = 0;
      for (const [client, member] of before) {
        if (member === gone) expect(after.get(client)).not.toBe(gone);
        else {
          others++;
          if (after.get(client) !== member) moved++;
        }
      }
      expect(moved).toBeLessThanOrEqual(Math.ceil(0.05 * others));
      expect(await open.echo("still here")).toBe("still here"); // conntrack keeps the established flow
      open.close();
    });

    it("ROUND_ROBIN spreads new clients by weight, interleaved, exactly per cycle", async () => {
      const [a, b] = lab.backendAddresses;
      await plane.apply(
        { listeners: [listener("rr", "TCP", 81, "rr")], pools: [pool("rr", [a!, b!], {}, [3, 1])] },
        allHealthy,
      );
      const answers = await tcpFromAll(81);
      const counts = new Map<string, number>();
      for (const x of answers) counts.set(x.member!, (counts.get(x.member!) ?? 0) + 1);
      expect(counts).toEqual(
        new Map([
          [`${a}:${BACKEND_PORT}`, 30],
          [`${b}:${BACKEND_PORT}`, 10],
        ]),
      );
    });

    it("SOURCE_IP persistence: bound clients stay, bindings are read and deleted, they lapse, unhealthy members lose theirs", async () => {
      const backends = lab.backendAddresses;
      const model: ConfigModel = {
        listeners: [listener("sticky", "TCP", 82, "sticky", { preserveClientIp: true })],
        pools: [pool("sticky", backends, { sessionPersistence: persistence(2_000) })],
      };
      await plane.apply(model, allHealthy);
      const clients = lab.clientAddresses.slice(0, 12);
      const ask = () => lab.clients(clients.map((s) => ({ source: s, protocol: "tcp" as const, port: 82 })));
      const first = await ask();
      // preserveClientIp: the member sees the client itself.
      for (const a of first) expect(a.seenFrom).toBe(a.source);
      const bound = byClient(first);
      expect(new Set(bound.values()).size).toBe(3); // the spread went round
      for (let round = 0; round < 3; round++) expect(byClient(await ask())).toEqual(bound);

      const bindings = await plane.bindings("sticky");
      expect(new Map(bindings.map((b) => [b.client, b.member]))).toEqual(bound);
      const probe = clients[0]!;
      expect(await plane.lookupBinding("sticky", probe)).toBe(bound.get(probe));
      expect(await plane.deleteBinding("sticky", probe)).toBe(true);
      expect(await plane.lookupBinding("sticky", probe)).toBeUndefined();
      expect(await plane.deleteBinding("sticky", probe)).toBe(false);

      // A member goes down: its clients are placed afresh and stay on their new member when it is back.
      const down = `${backends[1]}:${BACKEND_PORT}`;
      const isDown: MemberHealth = (_p, address) => `${address}:${BACKEND_PORT}` !== down;
      await plane.apply(model, isDown);
      const during = byClient(await ask());
      for (const [client, member] of bound) {
        expect(during.get(client)).not.toBe(down);
        if (member !== down && client !== probe) expect(during.get(client)).toBe(member);
      }
      await plane.apply(model, allHealthy);
      expect(byClient(await ask())).toEqual(during);

      // No new connection for longer than the persistence timeout: every binding lapses, except
      // that of a client whose open connection keeps sending (an open connection counts as traffic).
      const talker = clients[5]!;
      const open = await longLived(lab, talker, 82);
      for (let i = 0; i < 7; i++) {
        await new Promise((r) => setTimeout(r, 500));
        expect(await open.echo(`ping ${i}`)).toBe(`ping ${i}`);
      }
      expect((await plane.bindings("sticky")).map((b) => b.client)).toEqual([talker]);
      open.close();
    });

    it("draining members keep their clients but take no new ones", async () => {
      const [a, b] = lab.backendAddresses;
      const model = (drainB: boolean): ConfigModel => ({
        listeners: [listener("drain", "TCP", 83, "drain")],
        pools: [
          {
            ...pool("drain", [a!, b!], { sessionPersistence: persistence(60_000) }),
            members: [
              { address: a!, port: BACKEND_PORT, weight: 1, draining: false },
              { address: b!, port: BACKEND_PORT, weight: 1, draining: drainB },
            ],
          },
        ],
      });
      await plane.apply(model(false), allHealthy);
      const old = lab.clientAddresses.slice(0, 6);
      const fresh = lab.clientAddresses.slice(6, 16);
      const bound = byClient(
        await lab.clients(old.map((s) => ({ source: s, protocol: "tcp" as const, port: 83 }))),
      );
      expect([...bound.values()]).toContain(`${b}:${BACKEND_PORT}`);
      await plane.apply(model(true), allHealthy);
      expect(
        byClient(await lab.clients(old.map((s) => ({ source: s, protocol: "tcp" as const, port: 83 })))),
      ).toEqual(bound);
      const newcomers = await lab.clients(
        fresh.map((s) => ({ source: s, protocol: "tcp" as const, port: 83 })),
      );
      for (const n of newcomers) expect(n.member).toBe(`${a}:${BACKEND_PORT}`);
    });

    it("IPv6: SOURCE_IP keeps each client on one member over TCP and UDP, persistence sets hold IPv6 clients, mixed families stay in userspace", async () => {
      const backends6 = lab.backendAddresses6;
      const clients6 = lab.clientAddresses6.slice(0, 20);
      const model: ConfigModel = {
        listeners: [
          listener("hash6-tcp", "TCP", 86, "hash6", { address: VIP6 }),
          listener("hash6-udp", "UDP", 86, "hash6", { address: VIP6 }),
          listener("sticky6", "TCP", 87, "sticky6", { address: VIP6 }),
          listener("mixed", "TCP", 88, "hash6"),
        ],
        pools: [
          pool("hash6", backends6, { algorithm: "SOURCE_IP" }),
          pool("sticky6", backends6, { sessionPersistence: persistence(60_000) }),
        ],
      };
      const result = await plane.apply(model, allHealthy);
      expect(result.kernel).toEqual(["hash6-tcp", "hash6-udp", "sticky6"]);
      expect(result.userspace).toEqual([
        { listener: "mixed", reason: expect.stringMatching(/cannot translate between IPv4 and IPv6/) },
      ]);
      const ask = (protocol: "tcp" | "udp", port: number) =>
        lab.clients(clients6.map((source) => ({ source, protocol, port, address: VIP6 })));

      const tcp = await ask("tcp", 86);
      expect(tcp.filter((a) => a.error !== undefined)).toEqual([]);
      const first = byClient(tcp);
      expect(byClient(await ask("tcp", 86))).toEqual(first);
      expect(new Set(first.values())).toEqual(new Set(backends6.map((b) => `${b}:${BACKEND_PORT}`)));
      // Masqueraded to the load balancer's IPv6 address on the backend side.
      expect(new Set(tcp.map((a) => a.seenFrom))).toEqual(new Set(["fd00:77:2::1"]));
      for (const a of await ask("udp", 86)) {
        expect(a.error).toBeUndefined();
        expect(a.replyFrom).toBe(VIP6);
        expect(a.member).toBe(first.get(a.source));
      }

      const bound = byClient(await ask("tcp", 87));
      expect(byClient(await ask("tcp", 87))).toEqual(bound);
      const bindings = await plane.bindings("sticky6");
      // The bindings API names members as everywhere else: IPv6 in brackets.
      expect(new Map(bindings.map((b) => [b.client, b.member.replace(/^\[(.*)\]/, "$1")]))).toEqual(bound);
      const probe = clients6[0]!;
      expect(await plane.lookupBinding("sticky6", probe)).toBe(
        `[${bound.get(probe)!.slice(0, -`:${BACKEND_PORT}`.length)}]:${BACKEND_PORT}`,
      );
      expect(await plane.deleteBinding("sticky6", probe)).toBe(true);
      expect(await plane.lookupBinding("sticky6", probe)).toBeUndefined();
      // The IPv4 listener on the IPv6 pool is not in the kernel: nothing listens there.
      const refused = await lab.clients([{ source: lab.clientAddresses[0]!, protocol: "tcp", port: 88 }]);
      expect(refused[0]!.error).toBe("ECONNREFUSED");
    });

    it("keeps listeners the kernel cannot serve out of the table, naming why", async () => {
      const result = await plane.apply(
        {
          listeners: [
            listener("pp", "TCP", 84, "lc", { proxyProtocol: true }),
            listener("lc", "TCP", 85, "lc"),
          ],
          pools: [pool("lc", lab.backendAddresses, { algorithm: "LEAST_CONNECTIONS" })],
        },
        allHealthy,
      );
      expect(result.kernel).toEqual([]);
      expect(result.userspace.map((u) => u.listener)).toEqual(["pp", "lc"]);
      const refused = await lab.clients([{ source: lab.clientAddresses[0]!, protocol: "tcp", port: 85 }]);
      expect(refused[0]!.error).toBe("ECONNREFUSED"); // nothing programmed, nothing listening
    });

    it("deletes its table on close", async () => {
      await plane.close();
      const tables = spawnSync("ip", ["netns", "exec", lab.lb, "nft", "list", "tables"], {
        encoding: "utf8",
      });
      expect(tables.stdout).not.toContain(table);
    });
  },
);

/** A TCP connection from `sourceAddress` that stays open: its first line, then echoes on demand. */
async function longLived(lab: Lab, sourceAddress: string, port: number) {
  const script = `
    const s = require("node:net").connect({ host: "${VIP}", port: ${port}, localAddress: "${sourceAddress}" });
    s.setEncoding("utf8");
    s.on("data", (d) => process.stdout.write(d));
    s.on("error", (e) => { process.stdout.write("ERROR " + e.message + "\\n"); });
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d) => s.write(d));
    process.stdin.on("end", () => s.destroy());`;
  const [program, ...args] = lab.inside(lab.client, [process.execPath, "-e", script]);
  const child = spawn(program!, args, { stdio: ["pipe", "pipe", "inherit"] });
  child.stdout.setEncoding("utf8");
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  child.stdout.on("data", (d: string) => {
    lines.push(...d.split("\n").filter((l) => l !== ""));
    waiting?.();
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (waiting = r));
    return lines.shift()!;
  };
  const first = await nextLine();
  return {
    first,
    async echo(text: string) {
      child.stdin.write(`${text}\n`);
      return nextLine();
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}
