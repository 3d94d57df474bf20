import { describe, expect, it } from "vitest";
import type { Algorithm } from "../../../src/core/model.js";
import { LeastConnectionsPolicy } from "../../../src/data/balancer/least-connections.js";
import { MaglevPolicy } from "../../../src/data/balancer/maglev.js";
import { createPolicy, registeredAlgorithms } from "../../../src/data/balancer/registry.js";
import { RoundRobinPolicy } from "../../../src/data/balancer/round-robin.js";

describe("policy registry", () => {
  it("registers every algorithm of the model", () => {
    expect(registeredAlgorithms()).toEqual(["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"]);
  });

  it("makes the policy for each algorithm, a fresh instance per pool", () => {
    expect(createPolicy("ROUND_ROBIN")).toBeInstanceOf(RoundRobinPolicy);
    expect(createPolicy("LEAST_CONNECTIONS")).toBeInstanceOf(LeastConnectionsPolicy);
    expect(createPolicy("SOURCE_IP")).toBeInstanceOf(MaglevPolicy);
    expect(createPolicy("ROUND_ROBIN")).not.toBe(createPolicy("ROUND_ROBIN"));
    for (const algorithm of registeredAlgorithms()) expect(createPolicy(algorithm).algorithm).toBe(algorithm);
  });

  it("refuses an algorithm nobody registered", () => {
    expect(() => createPolicy("RANDOM" as Algorithm)).toThrow(
      "no balancing policy is registered for algorithm RANDOM",
    );
  });
});
