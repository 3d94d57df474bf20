import { beforeEach, describe, expect, it } from "vitest";
import { deleteBinding, keyForLog, lookupBinding } from "../../../src/admin/bindings-api.js";
import { ManualClock } from "../../../src/core/clock.js";
import { codecFor } from "../../../src/data/affinity/http-cookie-affinity.js";
import type { PoolRuntime } from "../../../src/data/upstream/pool-runtime.js";
import type { Runtime } from "../../../src/runtime/runtime.js";
import { placeL4 } from "../../support/placement.js";
import { memoryLogger, pool, runtimeWith } from "./support.js";

const MEMBERS: [string, number][] = [
  ["127.0.1.1", 9001],
  ["127.0.1.2", 9002],
  ["127.0.1.3", 9003],
];

describe("bindings API", () => {
  let clock: ManualClock;
  let runtime: Runtime;
  let l4: PoolRuntime;

  beforeEach(async () => {
    clock = new ManualClock(1_000_000);
    runtime = await runtimeWith(
      [
        pool("l4", "ROUND_ROBIN", "SOURCE_IP", MEMBERS),
        pool("web", "ROUND_ROBIN", "HTTP_COOKIE", MEMBERS),
        pool("app", "ROUND_ROBIN", "APP_COOKIE", MEMBERS),
        pool("hash", "SOURCE_IP", undefined, MEMBERS),
        pool("plain", "ROUND_ROBIN", undefined, MEMBERS),
      ],
      clock,
      memoryLogger().log,
    );
    l4 = runtime.current.pools.get("l4")!;
  });

  it("finds where a source IP is bound, how long it has been idle and why", () => {
    expect(placeL4(l4, "127.0.0.1").member?.endpoint).toBe("127.0.1.1:9001");
    clock.advance(7000);
    const a = lookupBinding(runtime, "l4", "127.0.0.1", clock.now());
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      pool: "l4",
      sessionPersistence: "SOURCE_IP",
      bound: true,
      expired: false,
      member: "127.0.1.1:9001",
      idleMs: 7000,
      expiresInMs: 53_000,
      openConnections: 0,
    });
    expect(a.body.why).toMatch(/idle 7s of 60s; the member is up: the next connection goes there/);
    // IPv4-mapped IPv6 is the same client (docs/reference/behaviour.md#source_ip-session-persistence).
    expect(lookupBinding(runtime, "l4", "::ffff:127.0.0.1", clock.now()).body.member).toBe("127.0.1.1:9001");
  });

  it("explains a redispatch, an open connection and an expiry", () => {
    placeL4(l4, "127.0.0.1");
    runtime.registry.setHealthy("l4/127.0.1.1:9001", false, "test");
    expect(lookupBinding(runtime, "l4", "127.0.0.1", clock.now()).body.why).toMatch(
      /member is down: the next connection is placed afresh and rebound \(redispatch\)/,
    );
    runtime.registry.setHealthy("l4/127.0.1.1:9001", true, "test");
    l4.bindings!.hold("127.0.0.1");
    clock.advance(120_000);
    const held = lookupBinding(runtime, "l4", "127.0.0.1", clock.now());
    expect(held.body).toMatchObject({ bound: true, openConnections: 1, idleMs: 0, expiresInMs: null });
    l4.bindings!.release("127.0.0.1");
    clock.advance(60_000);
    const lapsed = lookupBinding(runtime, "l4", "127.0.0.1", clock.now());
    expect(lapsed.body).toMatchObject({ bound: false, expired: true, member: "127.0.1.1:9001" });
    expect(lapsed.outcome).toBe("expired");
  });

  it("deletes a binding; the client is then placed afresh by the algorithm", () => {
    expect(placeL4(l4, "127.0.0.1").member?.endpoint).toBe("127.0.1.1:9001");
    expect(placeL4(l4, "127.0.0.2").member?.endpoint).toBe("127.0.1.2:9002");
    const del = deleteBinding(runtime, "l4", "127.0.0.1");
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ deleted: true, member: "127.0.1.1:9001" });
    expect(lookupBinding(runtime, "l4", "127.0.0.1", clock.now()).status).toBe(404);
    expect(deleteBinding(runtime, "l4", "127.0.0.1").status).toBe(404);
    const again = placeL4(l4, "127.0.0.1");
    expect(again.result).toBe("miss");
    expect(again.member?.endpoint).toBe("127.0.1.3:9003");
    expect(l4.counters.decisions).toMatchObject({ hit: 0, miss: 3 });
  });

  it("decodes an HTTP_COOKIE value but cannot delete it", () => {
    const web = runtime.current.pools.get("web")!;
    const codec = codecFor(runtime.current.cookieKey!);
    const value = codec.encode(codec.memberToken("127.0.1.2:9002"), clock.now());
    clock.advance(5000);
    const a = lookupBinding(runtime, "web", value, clock.now());
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      valid: true,
      bound: true,
      expired: false,
      member: "127.0.1.2:9002",
      ageMs: 5000,
    });
    const forged = lookupBinding(runtime, "web", `${value.slice(0, -2)}AA`, clock.now());
    expect(forged.body).toMatchObject({ valid: false, bound: false });
    expect(deleteBinding(runtime, "web", value).status).toBe(409);
    expect(web.bindings).toBeUndefined();
  });

  it("learns APP_COOKIE keys and unbinds them", () => {
    const app = runtime.current.pools.get("app")!;
    app.bindings!.bind("session-abc", "app/127.0.1.3:9003");
    expect(lookupBinding(runtime, "app", "session-abc", clock.now()).body).toMatchObject({
      bound: true,
      member: "127.0.1.3:9003",
    });
    expect(lookupBinding(runtime, "app", "session-abc", clock.now()).body.why).toMatch(
      /learned from the member's Set-Cookie JSESSIONID/,
    );
    expect(deleteBinding(runtime, "app", "session-abc").status).toBe(200);
    expect(app.bindings!.size).toBe(0);
  });

  it("answers where the consistent hash puts a client, and refuses pools without persistence", () => {
    const hash = runtime.current.pools.get("hash")!;
    const a = lookupBinding(runtime, "hash", "10.1.2.3", clock.now());
    expect(a.status).toBe(200);
    expect(a.body.member).toBe(hash.pick("10.1.2.3")!.endpoint);
    expect(deleteBinding(runtime, "hash", "10.1.2.3").status).toBe(409);
    expect(lookupBinding(runtime, "plain", "10.1.2.3", clock.now()).status).toBe(404);
    expect(deleteBinding(runtime, "plain", "10.1.2.3").status).toBe(409);
    expect(lookupBinding(runtime, "nope", "10.1.2.3", clock.now())).toMatchObject({ status: 404 });
  });

  it("never puts a cookie value in a log field", () => {
    expect(keyForLog("SOURCE_IP", "10.1.2.3")).toBe("10.1.2.3");
    const logged = keyForLog("APP_COOKIE", "very-secret-session");
    expect(logged).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(logged).not.toContain("secret");
    expect(keyForLog("APP_COOKIE", "very-secret-session")).toBe(logged);
    expect(keyForLog("HTTP_COOKIE", "x")).toMatch(/^sha256:/);
  });
});
