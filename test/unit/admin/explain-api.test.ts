import { afterEach, describe, expect, it } from "vitest";
import { explainQuery, humanDuration } from "../../../src/admin/explain-api.js";
import { ManualClock } from "../../../src/core/clock.js";
import { memberIdOf } from "../../../src/core/member.js";
import type { ConfigModel, ListenerModel } from "../../../src/core/model.js";
import { Runtime } from "../../../src/runtime/runtime.js";
import { memoryLogger, pool } from "./support.js";

const SOURCE = { file: "test", object: "LoadBalancer/test" };

function udpListener(name: string, defaultPool: string): ListenerModel {
  return {
    name,
    protocol: "UDP",
    address: "127.0.0.1",
    port: 0,
    defaultPool,
    rules: [],
    tls: [],
    proxyProtocol: false,
    timeouts: { idleMs: 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
    maxFlows: 100,
    accessLog: false,
    source: SOURCE,
  };
}

interface Body {
  key: {
    type: string;
    found: boolean;
    decoded: { member: string; expired: boolean; idleMs: number | null } | null;
  };
  members: { member: string; eligible: boolean; why: string }[];
  chosen: string | null;
  result: string | null;
  reason: string;
}

/** A runtime whose one UDP listener (loopback, port 0) sends to a SOURCE_IP-persistent pool. */
async function start(clock: ManualClock): Promise<Runtime> {
  const model: ConfigModel = {
    listeners: [udpListener("dns", "dns")],
    pools: [
      pool("dns", "ROUND_ROBIN", "SOURCE_IP", [
        ["127.0.1.1", 53],
        ["127.0.1.2", 53],
        ["127.0.1.3", 53],
        ["127.0.1.4", 53],
      ]),
    ],
    cookieSecret: { value: "k".repeat(40) },
  };
  const runtime = new Runtime({
    clock,
    log: memoryLogger().log,
    drainTimeoutMs: 1000,
    stateDir: "/nonexistent",
  });
  await runtime.apply(model);
  return runtime;
}

describe("explain over a UDP listener with SOURCE_IP persistence (injected clock)", () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const ask = (client: string, now: number) =>
    explainQuery(runtime!, new URLSearchParams({ listener: "dns", client }), now).body as unknown as Body;

  it("says why each member is or is not eligible", async () => {
    const clock = new ManualClock(1_000_000);
    runtime = await start(clock);
    const [a, b, c] = runtime.current.pools.get("dns")!.members;
    b!.weight = 0;
    c!.draining = true;
    runtime.registry.setHealthy(memberIdOf("dns", "127.0.1.4", 53), false, "passive: 3 connect failure(s)");
    const e = ask("127.0.0.2", clock.now());
    expect(e.members.map((m) => [m.member, m.eligible, m.why])).toEqual([
      [a!.endpoint, true, "eligible"],
      ["127.0.1.2:53", false, "weight 0 (takes no client, keeps no binding)"],
      ["127.0.1.3:53", false, "draining (keeps its bindings, takes no new clients)"],
      ["127.0.1.4:53", false, "ejected (passive: 3 connect failure(s))"],
    ]);
    expect(e.chosen).toBe(a!.endpoint);
    expect(e.result).toBe("miss");
    runtime.registry.setHealthy(memberIdOf("dns", "127.0.1.4", 53), true, "back");
    runtime.registry.setHealthy(memberIdOf("dns", "127.0.1.4", 53), false, "2 consecutive failure(s)");
    expect(ask("127.0.0.2", clock.now()).members[3]!.why).toBe("down (2 consecutive failure(s))");
  });

  it("reports a lapsed binding as expired without removing it, and a live one with its idle time", async () => {
    const clock = new ManualClock(1_000_000);
    runtime = await start(clock);
    const dns = runtime.current.pools.get("dns")!;
    const table = dns.bindings!;
    table.bind("127.0.0.5", dns.members[2]!.id);
    clock.advance(20_000);
    const live = ask("127.0.0.5", clock.now());
    expect(live.result).toBe("hit");
    expect(live.key.decoded).toMatchObject({ member: "127.0.1.3:53", expired: false, idleMs: 20_000 });
    expect(live.reason).toBe(
      "127.0.0.5 is bound to 127.0.1.3:53, which is eligible: the new flow goes there (hit)",
    );
    // Asking did not restart the idle timer: 40 s later the binding has lapsed (timeout 60 s).
    clock.advance(40_000);
    const lapsed = ask("127.0.0.5", clock.now());
    expect(lapsed.result).toBe("expired");
    expect(lapsed.key.decoded?.expired).toBe(true);
    expect(lapsed.reason).toContain("lapsed after 60s idle (expired)");
    // Nor did it remove the lapsed entry: the data path still counts it as expired, once.
    expect(table.size).toBe(1);
    expect(ask("127.0.0.5", clock.now()).result).toBe("expired");
    expect(runtime.current.pools.get("dns")!.counters.decisions).toEqual({
      hit: 0,
      miss: 0,
      expired: 0,
      invalid: 0,
      redispatch: 0,
    });
  });

  it("refuses what is not a question", async () => {
    runtime = await start(new ManualClock(0));
    const q = (params: Record<string, string>) => explainQuery(runtime!, new URLSearchParams(params), 0);
    expect(q({ listener: "dns" }).status).toBe(400);
    expect(q({ listener: "dns", client: "1.2.3" }).status).toBe(400);
    expect(q({ client: "127.0.0.1" }).status).toBe(400);
    expect(q({ listener: "web", client: "127.0.0.1" })).toMatchObject({
      status: 404,
      body: { listeners: ["dns"] },
    });
    expect(q({ listener: "dns", client: "127.0.0.1", cookie: "x".repeat(9_000) }).status).toBe(400);
    expect(q({ listener: "dns", client: "::1" }).status).toBe(200);
  });

  it("writes durations as people say them", () => {
    expect([0, 1_400, 119_000, 180_000, 7_200_000, 172_800_000].map(humanDuration)).toEqual([
      "0s",
      "1s",
      "119s",
      "3m",
      "2h",
      "2d",
    ]);
  });
});
