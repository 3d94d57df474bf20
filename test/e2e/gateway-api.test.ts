/**
 * Gateway API end to end: `stickylb run --kubernetes` against the API double, which serves
 * GatewayClass, Gateway and HTTPRoute with list/watch and the status subresource. A Gateway and
 * an HTTPRoute with cookie persistence serve sticky traffic to real HTTP backends on loopback, and
 * the leader writes the standard status conditions, once: an unrelated change does not rewrite
 * a status that already says the same.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, whoAnswers } from "../support/backends.js";
import { FakeKubeApi } from "../support/fake-kube-api.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { startController } from "../support/kube-objects.js";
import { freeTcpPort } from "../support/ports.js";
import { type StickylbProcess, startStickylb, tempDir } from "../support/stickylb-process.js";
import { within } from "../support/time.js";

type Conditions = { type: string; status: string; reason: string }[];
const summary = (conditions: unknown): Record<string, string> =>
  Object.fromEntries(((conditions ?? []) as Conditions).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe("Gateway API against a Kubernetes API double", () => {
  const web: HttpBackend[] = [];
  let api: FakeKubeApi;
  let proc: StickylbProcess;
  let port: number;

  beforeAll(async () => {
    web.push(await startHttpBackend("g1", "127.0.1.41"));
    web.push(await startHttpBackend("g2", "127.0.1.42", "name", web[0]!.port));
    api = await new FakeKubeApi().start();
    port = await freeTcpPort();
    proc = await startController(api);
  });
  afterAll(async () => {
    await proc?.stop();
    await api?.close();
    await Promise.all(web.map((b) => b.close()));
  });

  it("serves a Gateway and an HTTPRoute with cookie persistence, sticky, and writes their status once", async () => {
    api.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: "stickylb", generation: 1 },
      spec: { controllerName: "stickylb.io/gateway-controller" },
    });
    api.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: "someone-else" },
      spec: { controllerName: "example.com/other" },
    });
    api.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "web", namespace: "shop", generation: 1 },
      spec: { gatewayClassName: "stickylb", listeners: [{ name: "http", port, protocol: "HTTP" }] },
    });
    api.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "app", namespace: "shop" },
      spec: { type: "ClusterIP", ports: [{ name: "http", port: 80, protocol: "TCP" }] },
    });
    api.apply({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "app-1", namespace: "shop", labels: { "kubernetes.io/service-name": "app" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: web[0]!.port, protocol: "TCP" }],
      endpoints: ["127.0.1.41", "127.0.1.42"].map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    });
    api.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "app", namespace: "shop", generation: 1 },
      spec: {
        parentRefs: [{ name: "web" }],
        hostnames: ["app.example.com"],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            backendRefs: [{ name: "app", port: 80 }],
            sessionPersistence: { sessionName: "GWSESSION", type: "Cookie", idleTimeout: "10m" },
          },
        ],
      },
    });

    const host = { Host: "app.example.com" };
    const first = await within(3000, async () => {
      const answer = await httpGet(port, "/", host);
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      return answer;
    });
    const cookie = cookiePair(first.setCookies, "GWSESSION");
    expect(cookie).toBeDefined();
    for (let i = 0; i < 6; i++)
      expect((await httpGet(port, "/", { ...host, Cookie: cookie! })).body).toBe(first.body);
    // Without the cookie, new clients are balanced over both members.
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await httpGet(port, "/", host)).body.trim());
    expect(seen).toEqual(new Set(["g1", "g2"]));
    // A host the route does not name is not routed.
    expect((await httpGet(port, "/", { Host: "other.example.com" })).status).toBe(404);

    await within(20_000, async () => {
      expect(
        summary(
          (api.get("GatewayClass", "stickylb")?.status as { conditions?: unknown } | undefined)?.conditions,
        ),
      ).toEqual({
        Accepted: "True/Accepted",
      });
      const gateway = api.get("Gateway", "web", "shop")?.status as
        | { conditions: unknown; listeners: { name: string; attachedRoutes: number; conditions: unknown }[] }
        | undefined;
      expect(summary(gateway?.conditions)).toEqual({
        Accepted: "True/Accepted",
        Programmed: "True/Programmed",
      });
      expect(gateway?.listeners[0]?.attachedRoutes).toBe(1);
      expect(summary(gateway?.listeners[0]?.conditions).Programmed).toBe("True/Programmed");
      const route = api.get("HTTPRoute", "app", "shop")?.status as
        | { parents: { controllerName: string; conditions: unknown }[] }
        | undefined;
      expect(route?.parents).toHaveLength(1);
      expect(route?.parents[0]?.controllerName).toBe("stickylb.io/gateway-controller");
      expect(summary(route?.parents[0]?.conditions)).toEqual({
        Accepted: "True/Accepted",
        ResolvedRefs: "True/ResolvedRefs",
      });
    });
    // The other controller's class is left alone.
    expect(api.get("GatewayClass", "someone-else")?.status).toBeUndefined();

    // An unrelated change rebuilds, but statuses that already say the same are not rewritten.
    const patches = (): number =>
      api.count("patch", "gateways") +
      api.count("patch", "httproutes") +
      api.count("patch", "gatewayclasses");
    const before = patches();
    api.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "unrelated", namespace: "shop" },
      spec: { type: "ClusterIP", ports: [{ port: 81 }] },
    });
    await proc
      .waitForLog(
        (e) => e.msg === "kubernetes configuration applied" || e.msg === "Gateway API status written",
        1500,
      )
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    expect(patches()).toBe(before);

    // A route whose backend is missing says so in its parent's ResolvedRefs.
    api.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "app", namespace: "shop", generation: 2 },
      spec: {
        parentRefs: [{ name: "web" }],
        hostnames: ["app.example.com"],
        rules: [{ backendRefs: [{ name: "missing", port: 80 }] }],
      },
    });
    await within(5000, async () => {
      const route = api.get("HTTPRoute", "app", "shop")?.status as
        | { parents: { conditions: unknown }[] }
        | undefined;
      expect(summary(route?.parents[0]?.conditions).ResolvedRefs).toBe("False/BackendNotFound");
    });
  });
});

describe("a cluster without the Gateway API CRDs", () => {
  it("syncs and serves its Services; the Gateway API kinds count as empty", async () => {
    const backend = await startTcpBackend("only", "127.0.1.43");
    const api = await new FakeKubeApi({ gatewayApi: false }).start();
    const proc = startStickylb([
      "run",
      "--kubernetes",
      "--kubeconfig",
      api.writeKubeconfig(tempDir()),
      "--listen-address",
      "127.0.0.1",
    ]);
    try {
      const notServed = await proc.waitForLog(
        (e) => e.msg?.toString().startsWith("kind not served") === true,
        15_000,
      );
      expect(["GatewayClass", "Gateway", "HTTPRoute", "BackendLBPolicy"]).toContain(notServed.kind);
      await proc.waitForLog((e) => e.msg === "kubernetes controller synced", 15_000);
      const port = await freeTcpPort();
      api.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "tcp", namespace: "shop" },
        spec: { type: "LoadBalancer", ports: [{ name: "main", port, protocol: "TCP" }] },
      });
      api.apply({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "tcp-1", namespace: "shop", labels: { "kubernetes.io/service-name": "tcp" } },
        addressType: "IPv4",
        ports: [{ name: "main", port: backend.port, protocol: "TCP" }],
        endpoints: [{ addresses: ["127.0.1.43"], conditions: { ready: true } }],
      });
      expect(await within(3000, () => whoAnswers(port, "127.0.0.91"))).toBe("only");
    } finally {
      await proc.stop();
      await api.close();
      await backend.close();
    }
  });
});
