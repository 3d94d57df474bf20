/**
 * A short reload soak (the full one is `npm run bench:soak`): 100 SIGHUP reloads alternating two
 * configurations that differ in members and in listeners, under keep-alive load from sticky
 * clients. No request may fail, and no client may leave a member that stayed in both.
 */
import { describe, expect, it } from "vitest";
import { runReloadSoak } from "../../bench/lib/reload-soak.js";

describe("reload soak", () => {
  it("100 reloads that add and remove a member and a listener: 0 failed requests, 0 sticky clients moved", async () => {
    const result = await runReloadSoak({ reloads: 100, clients: 8 });
    expect(result.requests).toBeGreaterThan(200);
    expect(result.failed).toBe(0);
    expect(result.moved).toBe(0);
  }, 120_000);
});
