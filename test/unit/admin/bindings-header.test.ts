/** The bindings API over token persistence: header tokens, and the absolute timeout in answers. */
import { describe, expect, it } from "vitest";
import { lookupBinding } from "../../../src/admin/bindings-api.js";
import { ManualClock } from "../../../src/core/clock.js";
import type { PoolModel } from "../../../src/core/model.js";
import { codecFor } from "../../../src/data/affinity/http-cookie-affinity.js";
import { memoryLogger, pool, runtimeWith } from "./support.js";

const MEMBERS: [string, number][] = [
  ["127.0.1.1", 9001],
  ["127.0.1.2", 9002],
];

function headerPool(): PoolModel {
  const base = pool("api", "ROUND_ROBIN", "HTTP_HEADER", MEMBERS);
  return {
    ...base,
    sessionPersistence: {
      ...base.sessionPersistence!,
      cookieName: "",
      headerName: "X-Session",
      persistenceTimeoutMs: 60_000,
      absoluteTimeoutMs: 120_000,
    },
  };
}

describe("bindings API over header tokens", () => {
  it("decodes a header token, and says when its session is past the absolute timeout", async () => {
    const clock = new ManualClock(1_000_000_000);
    const runtime = await runtimeWith([headerPool()], clock, memoryLogger().log);
    // A header pool needs the key as a cookie pool does.
    expect(runtime.current.cookieKey).toBeDefined();
    const codec = codecFor(runtime.current.cookieKey!);
    const start = clock.now();
    clock.advance(110_000);
    const renewed = codec.encode(codec.memberToken("127.0.1.2:9002"), clock.now(), start);
    const live = lookupBinding(runtime, "api", renewed, clock.now());
    expect(live.body).toMatchObject({ valid: true, bound: true, expired: false, member: "127.0.1.2:9002" });
    expect(live.body.why).toMatch(/X-Session header names 127\.0\.1\.2:9002/);
    clock.advance(10_000);
    const over = lookupBinding(runtime, "api", renewed, clock.now());
    expect(over.body).toMatchObject({ valid: true, bound: false, expired: true, absoluteTimeoutMs: 120_000 });
    expect(over.body.why).toMatch(/session of this X-Session header started 120s ago, past absoluteTimeout/);
    expect(lookupBinding(runtime, "api", "forged", clock.now()).body).toMatchObject({ valid: false });
  });
});
