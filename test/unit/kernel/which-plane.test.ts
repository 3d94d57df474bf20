import { describe, expect, it } from "vitest";
import type { ListenerModel, PoolModel } from "../../../src/core/model.js";
import { planeFor } from "../../../src/kernel/which-plane.js";

const source = { file: "lb.yaml", object: "LoadBalancer/t" };
const listener = (fields: Partial<ListenerModel> = {}): ListenerModel => ({
  name: "l",
  protocol: "TCP",
  address: "10.0.0.1",
  port: 80,
  defaultPool: "p",
  rules: [],
  tls: [],
  proxyProtocol: false,
  timeouts: { idleMs: 300_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
  maxFlows: 100,
  accessLog: false,
  source,
  ...fields,
});
const pool = (fields: Partial<PoolModel> = {}): PoolModel => ({
  name: "p",
  algorithm: "ROUND_ROBIN",
  members: [{ address: "10.0.1.1", port: 80, weight: 1, draining: false }],
  source,
  ...fields,
});

describe("planeFor", () => {
  it("puts plain TCP and UDP listeners with ROUND_ROBIN or SOURCE_IP pools in the kernel", () => {
    expect(planeFor(listener(), pool())).toEqual({ plane: "kernel" });
    expect(
      planeFor(listener({ protocol: "UDP", address: "0.0.0.0" }), pool({ algorithm: "SOURCE_IP" })),
    ).toEqual({
      plane: "kernel",
    });
  });

  it("puts IPv6 listeners with IPv6 pools in the kernel", () => {
    const v6 = pool({ members: [{ address: "fd00::1", port: 80, weight: 1, draining: false }] });
    expect(planeFor(listener({ address: "fd00::10" }), v6)).toEqual({ plane: "kernel" });
    expect(planeFor(listener({ address: "fd00::10" }), pool({ members: [] }))).toEqual({ plane: "kernel" });
  });

  it("keeps HTTP and HTTPS in userspace without a warning", () => {
    expect(planeFor(listener({ protocol: "HTTP" }), pool())).toEqual({
      plane: "userspace",
      reason: undefined,
    });
    expect(planeFor(listener({ protocol: "HTTPS" }), pool())).toEqual({
      plane: "userspace",
      reason: undefined,
    });
  });

  it.each([
    [listener({ proxyProtocol: true }), pool(), /PROXY protocol/],
    [
      listener({ timeouts: { idleMs: 1, clientMs: 5_000, memberMs: 60_000, connectMs: 1 } }),
      pool(),
      /timeouts.client or timeouts.member/,
    ],
    [
      listener({ timeouts: { idleMs: 1, clientMs: 60_000, memberMs: 1_000, connectMs: 1 } }),
      pool(),
      /timeouts.client or timeouts.member/,
    ],
    [listener(), pool({ algorithm: "LEAST_CONNECTIONS" }), /pool p uses LEAST_CONNECTIONS/],
    [listener({ address: "::1" }), pool(), /IPv6/],
    [
      listener(),
      pool({ members: [{ address: "fd00::1", port: 80, weight: 1, draining: false }] }),
      /IPv6 member fd00::1/,
    ],
    [listener(), undefined, /pool "p" is not defined/],
    [listener({ address: "::" }), pool(), /:: takes IPv4 and IPv6 clients alike/],
    [
      listener({ address: "fd00::10" }),
      pool({
        members: [
          { address: "fd00::1", port: 80, weight: 1, draining: false },
          { address: "10.0.1.2", port: 80, weight: 1, draining: false },
        ],
      }),
      /mixes the IPv4 member 10.0.1.2 and the IPv6 member fd00::1/,
    ],
    [
      listener({ address: "0.0.0.0" }),
      pool({ members: [{ address: "fd00::1", port: 80, weight: 1, draining: false }] }),
      /cannot translate between IPv4 and IPv6/,
    ],
  ])(
    "keeps a listener that needs what the kernel cannot do in userspace, naming why (%#)",
    (l, p, reason) => {
      const choice = planeFor(l, p);
      expect(choice.plane).toBe("userspace");
      expect(choice.plane === "userspace" ? choice.reason : "").toMatch(reason);
    },
  );
});
