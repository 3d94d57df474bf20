import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import type { ConfigModel, PoolModel } from "../../../src/core/model.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import { PoolRuntime } from "../../../src/data/upstream/pool-runtime.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";
import { placeL4 } from "../../support/placement.js";

const source = { file: "test.yaml", object: "LoadBalancer/t" };

function pool(name: string, overrides: Partial<PoolModel> = {}, ports = [9001, 9002, 9003]): PoolModel {
  return {
    name,
    algorithm: "ROUND_ROBIN",
    members: ports.map((port) => ({ address: "127.0.1.1", port, weight: 1, draining: false })),
    source,
    ...overrides,
  };
}

const sourceIpPersistence = {
  type: "SOURCE_IP" as const,
  persistenceTimeoutMs: 2000,
  cookieName: "",
  cookie: { path: "/", domain: "", sameSite: "Lax" as const, secure: "auto" as const, httpOnly: true },
  maxBindings: 100,
};

function setup(models: PoolModel[]) {
  const clock = new ManualClock(1_000_000);
  const registry = new MemberRegistry(clock);
  const states = new PoolStates(clock);
  const build = (pools: PoolModel[]): Map<string, PoolRuntime> => {
    const model: ConfigModel = { listeners: [], pools };
    const byPool = registry.sync(model, 30_000);
    return new Map(
      pools.map((p) => [p.name, new PoolRuntime(p, byPool.get(p.name) ?? [], states.stateFor(p))]),
    );
  };
  return { clock, registry, states, build, pools: build(models) };
}

describe("L4 placement through the placement front with SOURCE_IP persistence", () => {
  it("binds a new client (miss), then sends it to the bound member (hit) although round robin moves on", () => {
    const { pools } = setup([pool("p", { sessionPersistence: sourceIpPersistence })]);
    const p = pools.get("p")!;
    const first = placeL4(p, "10.0.0.1");
    expect(first.result).toBe("miss");
    for (let i = 0; i < 5; i++) {
      const again = placeL4(p, "10.0.0.1");
      expect(again.result).toBe("hit");
      expect(again.member).toBe(first.member);
    }
    expect(p.counters.decisions).toMatchObject({ miss: 1, hit: 5 });
  });

  it("reports expired after the idle timeout, and an open connection (hold) keeps the binding", () => {
    const { pools, clock } = setup([pool("p", { sessionPersistence: sourceIpPersistence })]);
    const p = pools.get("p")!;
    const a = placeL4(p, "10.0.0.1").member!;
    clock.advance(2001);
    const after = placeL4(p, "10.0.0.1");
    expect(after.result).toBe("expired");

    const held = placeL4(p, "10.0.0.2").member!;
    p.bindings!.hold("10.0.0.2");
    clock.advance(10_000);
    expect(placeL4(p, "10.0.0.2")).toMatchObject({ result: "hit", member: held });
    p.bindings!.release("10.0.0.2");
    clock.advance(2001);
    expect(placeL4(p, "10.0.0.2").result).toBe("expired");
    expect(a).toBeDefined();
  });

  it("redispatches a client whose member went down, and keeps it on the new member after recovery (docs/reference/behaviour.md#failure-of-a-bound-member)", () => {
    const { pools, registry } = setup([pool("p", { sessionPersistence: sourceIpPersistence })]);
    const p = pools.get("p")!;
    const first = placeL4(p, "10.0.0.1").member!;
    registry.setHealthy(first.id, false, "test");
    const moved = placeL4(p, "10.0.0.1");
    expect(moved.result).toBe("redispatch");
    expect(moved.member).not.toBe(first);
    registry.setHealthy(first.id, true, "test");
    expect(placeL4(p, "10.0.0.1")).toMatchObject({ result: "hit", member: moved.member });
  });

  it("keeps the bindings of a draining member but gives it no new clients", () => {
    const { build } = setup([]);
    const base = pool("p", { sessionPersistence: sourceIpPersistence }, [9001, 9002]);
    let pools = build([base]);
    const bound = placeL4(pools.get("p")!, "10.0.0.1").member!;
    pools = build([
      {
        ...base,
        members: base.members.map((m) => ({ ...m, draining: m.port === bound.port })),
      },
    ]);
    const p = pools.get("p")!;
    expect(placeL4(p, "10.0.0.1")).toMatchObject({ result: "hit", member: bound });
    for (let i = 2; i < 10; i++) expect(placeL4(p, `10.0.0.${i}`).member).not.toBe(bound);
  });

  it("redispatches clients of a member whose weight became 0 or that was removed, and keeps state of members that stay", () => {
    const { build, registry } = setup([]);
    const base = pool("p", { sessionPersistence: sourceIpPersistence }, [9001, 9002, 9003]);
    let pools = build([base]);
    const placed = new Map<string, string>();
    for (let i = 1; i <= 12; i++)
      placed.set(`10.0.0.${i}`, placeL4(pools.get("p")!, `10.0.0.${i}`).member!.endpoint);
    const stay = registry.get("p/127.0.1.1:9001")!;
    stay.total = 42;
    // Reload: 9002 weight 0, 9003 removed.
    pools = build([{ ...base, members: [base.members[0]!, { ...base.members[1]!, weight: 0 }] }]);
    const p = pools.get("p")!;
    expect(registry.get("p/127.0.1.1:9001")).toBe(stay);
    expect(stay.total).toBe(42);
    for (const [ip, endpoint] of placed) {
      const now = placeL4(p, ip);
      expect(now.member!.endpoint).toBe("127.0.1.1:9001");
      expect(now.result).toBe(endpoint === "127.0.1.1:9001" ? "hit" : "redispatch");
    }
  });

  it("counts a refusal when no member is eligible", () => {
    const { pools, registry } = setup([pool("p", { sessionPersistence: sourceIpPersistence })]);
    const p = pools.get("p")!;
    for (const m of p.members) registry.setHealthy(m.id, false, "test");
    expect(placeL4(p, "10.0.0.1").member).toBeUndefined();
    expect(p.counters.noMember).toBe(1);
  });
});

describe("MemberRegistry drain", () => {
  it("forgets a removed member at once when nothing is open, and closes what is open at the deadline", () => {
    const { build, registry, clock } = setup([]);
    build([pool("p", {}, [9001, 9002])]);
    const leaving = registry.get("p/127.0.1.1:9002")!;
    leaving.active = 1;
    let closed = 0;
    leaving.open.add({ destroy: () => closed++ });
    build([pool("p", {}, [9001])]);
    expect(leaving.removed).toBe(true);
    expect(leaving.eligible).toBe(false);
    registry.collect();
    expect(closed).toBe(0);
    clock.advance(30_001);
    registry.collect();
    expect(closed).toBe(1);
  });
});
