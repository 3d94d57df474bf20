/**
 * What the Gateway API status writer writes: conditions keep their lastTransitionTime while their
 * status stays, an unchanged status is recognised (so it is not rewritten), and an HTTPRoute's
 * parent entries of other controllers are kept.
 */
import { describe, expect, it } from "vitest";
import { condition, type WantedStatus } from "../../../src/control/k8s/gateway-conditions.js";
import { showsAlready, statusToWrite } from "../../../src/control/k8s/gateway-status-writer.js";

const ours = "stickylb.io/gateway-controller";
const T1 = "2026-01-01T00:00:00Z";
const T2 = "2026-01-02T00:00:00Z";

const gateway = (programmed: boolean): WantedStatus => ({
  kind: "Gateway",
  namespace: "shop",
  name: "web",
  generation: 4,
  status: {
    conditions: [
      condition("Accepted", true, "Accepted", "ok"),
      condition("Programmed", programmed, programmed ? "Programmed" : "Invalid", "x"),
    ],
    listeners: [
      { name: "http", attachedRoutes: 1, conditions: [condition("Programmed", true, "Programmed", "y")] },
    ],
  },
});

describe("Gateway API status writer", () => {
  it("stamps new conditions with now and the generation, keeps the time of those that did not change", () => {
    const first = statusToWrite(gateway(true), { status: {} }, ours, T1);
    expect(first.conditions).toEqual([
      {
        type: "Accepted",
        status: "True",
        reason: "Accepted",
        message: "ok",
        observedGeneration: 4,
        lastTransitionTime: T1,
      },
      {
        type: "Programmed",
        status: "True",
        reason: "Programmed",
        message: "x",
        observedGeneration: 4,
        lastTransitionTime: T1,
      },
    ]);
    const again = statusToWrite(gateway(true), { status: first }, ours, T2);
    expect(showsAlready({ status: first }, again)).toBe(true);
    const changed = statusToWrite(gateway(false), { status: first }, ours, T2);
    expect(showsAlready({ status: first }, changed)).toBe(false);
    const times = (changed.conditions as { type: string; lastTransitionTime: string }[]).map((c) => [
      c.type,
      c.lastTransitionTime,
    ]);
    expect(times).toEqual([
      ["Accepted", T1],
      ["Programmed", T2],
    ]);
    const listener = (changed.listeners as { conditions: { lastTransitionTime: string }[] }[])[0];
    expect(listener?.conditions[0]?.lastTransitionTime).toBe(T1);
  });

  it("keeps the route parents written by other controllers", () => {
    const theirs = { parentRef: { name: "other-gw" }, controllerName: "example.com/other", conditions: [] };
    const route: WantedStatus = {
      kind: "HTTPRoute",
      namespace: "shop",
      name: "app",
      generation: 1,
      status: {
        parents: [
          {
            parentRef: { name: "web" },
            controllerName: ours,
            conditions: [condition("Accepted", true, "Accepted", "")],
          },
        ],
      },
    };
    const written = statusToWrite(
      route,
      { status: { parents: [theirs, { parentRef: { name: "old" }, controllerName: ours, conditions: [] }] } },
      ours,
      T1,
    );
    const parents = written.parents as { parentRef: { name: string } }[];
    expect(parents.map((p) => p.parentRef.name)).toEqual(["other-gw", "web"]);
  });
});
