/**
 * The status each Gateway API object should get (the converter's `wantedStatus`): conditions and
 * reasons as the Gateway API defines them, for the accepted case and the refused ones.
 */
import { describe, expect, it } from "vitest";
import type { KubernetesKind } from "../../../src/control/config/index.js";
import { convertObjects, fromCluster } from "../../../src/control/k8s/index.js";

const obj = (kind: KubernetesKind, doc: Record<string, unknown>) => fromCluster(kind, doc);
const options = { listenAddress: "127.0.0.1" };

const gatewayClass = (controllerName: string) =>
  obj("GatewayClass", { metadata: { name: "sticky" }, spec: { controllerName } });
const gateway = obj("Gateway", {
  metadata: { name: "web", namespace: "app", generation: 3 },
  spec: {
    gatewayClassName: "sticky",
    listeners: [
      { name: "http", port: 80, protocol: "HTTP", hostname: "www.example.com" },
      { name: "udp", port: 53, protocol: "UDP" },
    ],
  },
});
const service = obj("Service", {
  metadata: { name: "api", namespace: "app" },
  spec: { ports: [{ port: 80 }] },
});
const route = (name: string, spec: Record<string, unknown>, namespace = "app") =>
  obj("HTTPRoute", { metadata: { name, namespace }, spec });

const conditions = (status: unknown): Record<string, [string, string]> =>
  Object.fromEntries(
    ((status as { conditions: { type: string; status: string; reason: string }[] }).conditions ?? []).map(
      (c) => [c.type, [c.status, c.reason]],
    ),
  );

function statusOf(results: ReturnType<typeof convertObjects>, key: string) {
  const result = results.find((r) => r.key === key);
  if (result?.wantedStatus === undefined) throw new Error(`no status for ${key}`);
  return result.wantedStatus.status as Record<string, unknown>;
}

describe("Gateway API status", () => {
  it("accepts a class of our controller and leaves others alone", () => {
    expect(convertObjects([gatewayClass("example.com/other"), gateway], options)).toEqual([]);
    const results = convertObjects([gatewayClass("stickylb.io/gateway-controller")], options);
    expect(conditions(statusOf(results, "GatewayClass/sticky"))).toEqual({ Accepted: ["True", "Accepted"] });
  });

  it("honours --gateway-class-controller", () => {
    const results = convertObjects([gatewayClass("example.com/mine")], {
      ...options,
      gatewayClassController: "example.com/mine",
    });
    expect(results.map((r) => r.key)).toEqual(["GatewayClass/sticky"]);
  });

  it("programs the Gateway, refuses an unsupported listener protocol, counts attached routes", () => {
    const results = convertObjects(
      [
        gatewayClass("stickylb.io/gateway-controller"),
        gateway,
        service,
        route("ok", { parentRefs: [{ name: "web" }], rules: [{ backendRefs: [{ name: "api", port: 80 }] }] }),
      ],
      options,
    );
    const status = statusOf(results, "Gateway/app/web");
    expect(conditions(status)).toEqual({
      Accepted: ["True", "Accepted"],
      Programmed: ["True", "Programmed"],
    });
    const listeners = status.listeners as { name: string; attachedRoutes: number }[];
    expect(listeners.map((l) => [l.name, l.attachedRoutes, conditions(l)])).toEqual([
      [
        "http",
        1,
        {
          Accepted: ["True", "Accepted"],
          ResolvedRefs: ["True", "ResolvedRefs"],
          Conflicted: ["False", "NoConflicts"],
          Programmed: ["True", "Programmed"],
        },
      ],
      [
        "udp",
        0,
        {
          Accepted: ["False", "UnsupportedProtocol"],
          Programmed: ["False", "Invalid"],
          ResolvedRefs: ["True", "ResolvedRefs"],
          Conflicted: ["False", "NoConflicts"],
        },
      ],
    ]);
    const parents = statusOf(results, "HTTPRoute/app/ok").parents as Record<string, unknown>[];
    expect(parents).toHaveLength(1);
    expect(parents[0]?.controllerName).toBe("stickylb.io/gateway-controller");
    expect(conditions(parents[0])).toEqual({
      Accepted: ["True", "Accepted"],
      ResolvedRefs: ["True", "ResolvedRefs"],
    });
  });

  it("gives each route parent the standard reason why it is not attached or not resolved", () => {
    const results = convertObjects(
      [
        gatewayClass("stickylb.io/gateway-controller"),
        gateway,
        service,
        route("no-section", { parentRefs: [{ name: "web", sectionName: "nope" }] }),
        route("other-ns", { parentRefs: [{ name: "web", namespace: "app" }] }, "elsewhere"),
        route("wrong-host", { parentRefs: [{ name: "web" }], hostnames: ["api.example.com"] }),
        route("missing", {
          parentRefs: [{ name: "web" }],
          rules: [{ backendRefs: [{ name: "gone", port: 80 }] }],
        }),
        route("regex", {
          parentRefs: [{ name: "web" }],
          rules: [{ matches: [{ path: { type: "RegularExpression", value: "/.*" } }] }],
        }),
      ],
      options,
    );
    const parent = (name: string, ns = "app") =>
      conditions((statusOf(results, `HTTPRoute/${ns}/${name}`).parents as unknown[])[0]);
    expect(parent("no-section").Accepted).toEqual(["False", "NoMatchingParent"]);
    expect(parent("other-ns", "elsewhere").Accepted).toEqual(["False", "NotAllowedByListeners"]);
    expect(parent("wrong-host").Accepted).toEqual(["False", "NoMatchingListenerHostname"]);
    expect(parent("missing")).toEqual({
      Accepted: ["True", "Accepted"],
      ResolvedRefs: ["False", "BackendNotFound"],
    });
    expect(parent("regex").Accepted).toEqual(["False", "UnsupportedValue"]);
  });

  it("reports a missing certificate as InvalidCertificateRef and does not program the Gateway", () => {
    const tlsGateway = obj("Gateway", {
      metadata: { name: "tls", namespace: "app" },
      spec: {
        gatewayClassName: "sticky",
        listeners: [
          { name: "https", port: 443, protocol: "HTTPS", tls: { certificateRefs: [{ name: "none" }] } },
        ],
      },
    });
    const results = convertObjects([gatewayClass("stickylb.io/gateway-controller"), tlsGateway], options);
    const status = statusOf(results, "Gateway/app/tls");
    expect(conditions(status).Programmed).toEqual(["False", "Invalid"]);
    const listener = (status.listeners as unknown[])[0];
    expect(conditions(listener).ResolvedRefs).toEqual(["False", "InvalidCertificateRef"]);
  });
});
