/**
 * The placement front with a shared binding store: a local hit stays synchronous and never asks
 * the store; only a local miss does (one claim), and the store's answer is honoured like a local
 * binding.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import type { MemberId } from "../../../src/core/member.js";
import type { ConfigModel, PoolModel } from "../../../src/core/model.js";
import { BindingTable } from "../../../src/data/affinity/binding-table.js";
import { l4Client, placeClient } from "../../../src/data/affinity/placement-front.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import { PoolRuntime } from "../../../src/data/upstream/pool-runtime.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";
import { placedNow } from "../../support/placed-now.js";

const source = { file: "test.yaml", object: "LoadBalancer/t" };
const model: PoolModel = {
  name: "p",
  algorithm: "ROUND_ROBIN",
  members: [9001, 9002, 9003].map((port) => ({ address: "127.0.1.1", port, weight: 1, draining: false })),
  source,
  sessionPersistence: {
    type: "SOURCE_IP",
    persistenceTimeoutMs: 2000,
    cookieName: "",
    cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
    maxBindings: 100,
  },
};

/**
 * A local table whose "store" answers what the test says (undefined: it cannot be asked): `answer`
 * is the binding the store already holds for a key, if any; a claim finds it, or stores ours.
 */
class TableWithStore extends BindingTable {
  asked: string[] = [];
  answer: (key: string) => Promise<MemberId | undefined> | undefined = () => undefined;
  claimShared(key: string, member: MemberId): Promise<MemberId | undefined> | undefined {
    this.asked.push(key);
    const found = this.answer(key);
    // Like the real store: the member it holds afterwards is cached locally.
    return found?.then((m) => {
      const held = m ?? member;
      this.bind(key, held);
      return held;
    });
  }
}

function setup() {
  const clock = new ManualClock(1_000_000);
  const registry = new MemberRegistry(clock);
  const states = new PoolStates(clock);
  const table = new TableWithStore({ ttlMs: 2000, maxEntries: 100, clock });
  const retained: string[][] = [];
  states.share({ pool: () => table, retainPools: (names) => retained.push([...names]) });
  const config: ConfigModel = { listeners: [], pools: [model] };
  const members = registry.sync(config, 30_000).get("p") ?? [];
  const plan = states.plan([model]);
  plan.commit();
  const pool = new PoolRuntime(model, members, plan.states.get("p")!);
  return { clock, table, pool, retained };
}

describe("placement front with a shared binding store", () => {
  it("a local miss asks the store and honours its binding (a hit), which is then cached: the next placement is synchronous", async () => {
    const { table, pool, retained } = setup();
    expect(retained).toEqual([["p"]]);
    table.answer = async () => "p/127.0.1.1:9003";
    const placed = placeClient(pool, l4Client("10.0.0.1"));
    expect(placed).toBeInstanceOf(Promise);
    const client = await placed;
    expect(client.member?.endpoint).toBe("127.0.1.1:9003");
    expect(client.result).toBe("hit");
    expect(pool.counters.decisions.hit).toBe(1);
    const again = placedNow(placeClient(pool, l4Client("10.0.0.1")));
    expect(again.member?.endpoint).toBe("127.0.1.1:9003");
    expect(table.asked).toEqual(["10.0.0.1"]);
  });

  it("nothing in the store: placed by the policy (a miss) and bound locally", async () => {
    const { table, pool } = setup();
    table.answer = async () => undefined;
    const client = await placeClient(pool, l4Client("10.0.0.2"));
    expect(client.result).toBe("miss");
    expect(client.member).toBeDefined();
    expect(table.peek("10.0.0.2")?.member).toBe(client.member!.id);
  });

  it("a store that cannot be asked (down, too many lookups waiting): placed at once, synchronously", () => {
    const { table, pool } = setup();
    table.answer = () => undefined;
    const client = placedNow(placeClient(pool, l4Client("10.0.0.3")));
    expect(client.result).toBe("miss");
    expect(table.asked).toEqual(["10.0.0.3"]);
  });

  it("a store binding to a member this pool does not have is a redispatch, placed by the policy", async () => {
    const { table, pool } = setup();
    table.answer = async () => "p/127.0.1.9:1";
    const client = await placeClient(pool, l4Client("10.0.0.4"));
    expect(client.result).toBe("redispatch");
    expect(client.member).toBeDefined();
  });

  it("a local hit never asks the store", () => {
    const { table, pool } = setup();
    table.bind("10.0.0.5", "p/127.0.1.1:9002");
    table.answer = () => {
      throw new Error("the store must not be asked on a hit");
    };
    const client = placedNow(placeClient(pool, l4Client("10.0.0.5")));
    expect(client.result).toBe("hit");
    expect(table.asked).toEqual([]);
  });

  it("a claim that the store keeps (the client is new everywhere): a miss, placed on the policy's pick", async () => {
    const { table, pool } = setup();
    table.answer = async () => undefined;
    const expected = pool.peek("10.0.0.6");
    const client = await placeClient(pool, l4Client("10.0.0.6"));
    expect(client.result).toBe("miss");
    expect(client.member).toBe(expected);
    expect(table.asked).toEqual(["10.0.0.6"]);
    expect(pool.counters.decisions).toMatchObject({ miss: 1, hit: 0, redispatch: 0 });
  });

  it("another replica claimed the client first on a member that may not take it here: the pick stays, a redispatch", async () => {
    const { table, pool } = setup();
    table.answer = async () => "p/127.0.1.1:9001";
    pool.members.find((m) => m.endpoint === "127.0.1.1:9001")!.weight = 0;
    const client = await placeClient(pool, l4Client("10.0.0.7"));
    expect(client.result).toBe("redispatch");
    expect(client.member?.endpoint).not.toBe("127.0.1.1:9001");
    // Rebound here on the pick; the store's write (compare-and-set) is the table's business.
    expect(table.peek("10.0.0.7")?.member).toBe(client.member!.id);
  });
});
