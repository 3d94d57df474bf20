import { describe, expect, it } from "vitest";
import { HealthState } from "../../../src/health/health-state.js";

function run(state: HealthState, steps: string): string {
  // "f" = failure, "s" = success; the output marks each step with the health after it (U/D).
  let out = "";
  for (const step of steps) {
    if (step === "f") state.fail("x");
    else state.succeed();
    out += state.healthy ? "U" : "D";
  }
  return out;
}

describe("HealthState", () => {
  it("starts healthy and goes down after maxRetriesDown consecutive failures", () => {
    expect(run(new HealthState({ maxRetries: 2, maxRetriesDown: 3 }), "fff")).toBe("UUD");
  });

  it("a success resets the failure count", () => {
    expect(run(new HealthState({ maxRetries: 2, maxRetriesDown: 3 }), "ffsfff")).toBe("UUUUUD");
  });

  it("comes back after maxRetries consecutive successes; a failure while down starts the count over", () => {
    expect(run(new HealthState({ maxRetries: 2, maxRetriesDown: 1 }), "fssfsfss")).toBe("DDUDDDDU");
  });

  it("reports exactly the transitions, with a reason", () => {
    const s = new HealthState({ maxRetries: 1, maxRetriesDown: 2 });
    expect(s.fail("HTTP 503")).toBeUndefined();
    expect(s.fail("HTTP 503")).toEqual({
      healthy: false,
      reason: "2 consecutive failure(s), last: HTTP 503",
    });
    expect(s.fail("HTTP 503")).toBeUndefined();
    expect(s.succeed()).toEqual({ healthy: true, reason: "1 consecutive successful probe(s)" });
    expect(s.succeed()).toBeUndefined();
  });

  it("threshold 1 flips on every change", () => {
    expect(run(new HealthState({ maxRetries: 1, maxRetriesDown: 1 }), "fsfs")).toBe("DUDU");
  });

  it("a successful connect clears passive failures only, never a failed probe, and never brings a member back", () => {
    const s = new HealthState({ maxRetries: 1, maxRetriesDown: 3 });
    s.fail("ECONNREFUSED", true);
    s.fail("ECONNREFUSED", true);
    s.connectSucceeded();
    expect(s.failures).toBe(0);
    s.fail("HTTP 503");
    s.fail("ECONNREFUSED", true);
    s.connectSucceeded();
    expect(s.failures).toBe(2);
    expect(s.fail("HTTP 503")).toMatchObject({ healthy: false });
    s.connectSucceeded();
    expect(s.healthy).toBe(false);
    expect(s.succeed()).toMatchObject({ healthy: true });
  });
});
