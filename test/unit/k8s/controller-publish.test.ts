/**
 * What the controller writes back, in process against the API double: the status copied from the
 * `--publish-service` Service, no rewrite of a status that already says the same, nothing written
 * while another replica leads and everything at once when leadership arrives; objects of another
 * load balancer class or Ingress class get nothing; Gateway API conditions follow the same rules.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type ControllerOptions, KubernetesController } from "../../../src/control/k8s/controller.js";
import { EventRecorder, type EventToPost } from "../../../src/control/k8s/event-recorder.js";
import { ManualClock } from "../../../src/core/clock.js";
import { FakeKubeApi } from "../../support/fake-kube-api.js";
import { eventually, sleep } from "../../support/time.js";

const service = (name: string, port: number, spec: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default" },
  spec: { type: "LoadBalancer", ports: [{ name: "tcp", port, protocol: "TCP" }], ...spec },
});

/** A controller against `api` that applies nothing, rebuilding at most every 20 ms. */
function controllerOn(api: FakeKubeApi, options: Partial<ControllerOptions> = {}): KubernetesController {
  return new KubernetesController({
    config: api.kubeConfig(),
    converter: { listenAddress: "127.0.0.1" },
    log: pino({ level: "silent" }),
    apply: async () => {},
    throttleMs: 20,
    ...options,
  });
}

/** An Event recorder that posts into `posted`. */
function recorderInto(posted: EventToPost[]): EventRecorder {
  const sink = {
    post: async (event: EventToPost) => {
      posted.push(event);
    },
  };
  return new EventRecorder(sink, new ManualClock(0), pino({ level: "silent" }));
}

describe("status written by the controller", () => {
  let api: FakeKubeApi;
  let controller: KubernetesController | undefined;
  afterEach(async () => {
    await controller?.stop();
    await api.close();
  });

  it("copies --publish-service's status, writes only differences, and only while leading", async () => {
    api = await new FakeKubeApi().start();
    let leading = false;
    controller = controllerOn(api, {
      publishService: { namespace: "edge", name: "front" },
      isLeader: () => leading,
    });
    // The published Service belongs to another load balancer (its class), which gave it addresses.
    api.apply({
      ...service("front", 443, { loadBalancerClass: "example.com/cloud" }),
      metadata: { name: "front", namespace: "edge" },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.5" }, { hostname: "lb.example.com" }] } },
    });
    api.apply(service("web", 8080));
    api.apply(service("metallb", 8081, { loadBalancerClass: "metallb.io/metallb" }));
    controller.start();
    await controller.synced;
    await sleep(300);
    expect(api.count("patch")).toBe(0);

    leading = true;
    controller.leadershipChanged();
    const expected = { loadBalancer: { ingress: [{ ip: "203.0.113.5" }, { hostname: "lb.example.com" }] } };
    await eventually(() => expect(api.get("Service", "web")?.status).toEqual(expected));
    // The write came back as a watch event and a rebuild; nothing is written again.
    await sleep(300);
    controller.markDirty();
    await sleep(300);
    expect(api.count("patch")).toBe(1);
    expect(api.get("Service", "metallb")?.status).toBeUndefined();
    expect(api.get("Service", "front", "edge")?.status).toEqual(expected);

    // The published address changes: the served objects follow.
    api.apply({
      ...service("front", 443, { loadBalancerClass: "example.com/cloud" }),
      metadata: { name: "front", namespace: "edge" },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.6" }] } },
    });
    await eventually(() =>
      expect(api.get("Service", "web")?.status).toEqual({
        loadBalancer: { ingress: [{ ip: "203.0.113.6" }] },
      }),
    );
    expect(api.count("patch")).toBe(2);
  });
});

describe("Gateway API status written by the controller", () => {
  let api: FakeKubeApi;
  let controller: KubernetesController | undefined;
  afterEach(async () => {
    await controller?.stop();
    await api.close();
  });

  it("nothing while another replica leads; the conditions at once when leadership arrives, then only changes", async () => {
    api = await new FakeKubeApi().start();
    let leading = false;
    controller = controllerOn(api, {
      isLeader: () => leading,
    });
    api.apply({
      kind: "GatewayClass",
      metadata: { name: "sticky" },
      spec: { controllerName: "stickylb.io/gateway-controller" },
    });
    api.apply({
      kind: "Gateway",
      metadata: { name: "web", namespace: "default" },
      spec: { gatewayClassName: "sticky", listeners: [{ name: "http", port: 18080, protocol: "HTTP" }] },
    });
    api.apply({
      kind: "HTTPRoute",
      metadata: { name: "app", namespace: "default" },
      spec: { parentRefs: [{ name: "web" }], rules: [{ backendRefs: [{ name: "gone", port: 80 }] }] },
    });
    controller.start();
    await controller.synced;
    await sleep(300);
    expect(api.count("patch")).toBe(0);

    leading = true;
    controller.leadershipChanged();
    await eventually(() => expect(api.count("patch")).toBe(3));
    const route = api.get("HTTPRoute", "app")?.status as {
      parents: { conditions: { type: string; reason: string }[] }[];
    };
    expect(route.parents[0]?.conditions.map((c) => `${c.type}/${c.reason}`)).toEqual([
      "Accepted/Accepted",
      "ResolvedRefs/BackendNotFound",
    ]);
    await sleep(300);
    controller.markDirty();
    await sleep(300);
    expect(api.count("patch")).toBe(3);

    // The missing Service appears: only the route's status changes.
    api.apply({
      kind: "Service",
      metadata: { name: "gone", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    await eventually(() => expect(api.count("patch", "httproutes")).toBe(2));
    await sleep(300);
    expect(api.count("patch")).toBe(4);
  });
});

describe("Events posted by the controller", () => {
  let api: FakeKubeApi;
  let controller: KubernetesController | undefined;
  afterEach(async () => {
    await controller?.stop();
    await api.close();
  });

  it("a partly applied Ingress (a rule another Ingress routes already) gets a Warning, then a Normal once fixed", async () => {
    api = await new FakeKubeApi().start();
    const posted: EventToPost[] = [];
    controller = controllerOn(api, {
      events: recorderInto(posted),
    });
    const ingress = (name: string, host: string, created: string) => ({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name, namespace: "default", creationTimestamp: created },
      spec: {
        ingressClassName: "stickylb",
        rules: [
          {
            host,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: "web", port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    api.apply(ingress("first", "shop.example.com", "2020-01-01T00:00:00Z"));
    api.apply(ingress("second", "shop.example.com", "2021-01-01T00:00:00Z"));
    controller.start();
    await controller.synced;
    await eventually(() =>
      expect(posted.map((e) => `${e.type} ${e.reason} ${e.object.name}`)).toContain(
        "Warning InvalidConfiguration second",
      ),
    );
    expect(posted.find((e) => e.object.name === "second")?.message).toMatch(
      /^Ingress\/default\/second: .*already routed by Ingress\/default\/first; this one is never used$/,
    );
    expect(posted.filter((e) => e.object.name === "first")).toEqual([]);

    api.apply(ingress("second", "other.example.com", "2021-01-01T00:00:00Z"));
    await eventually(() =>
      expect(posted.map((e) => `${e.type} ${e.reason} ${e.object.name}`)).toContain(
        "Normal Configured second",
      ),
    );
    expect(posted).toHaveLength(2);
  });

  it("a listener that cannot bind: a Warning on the object it came from, once, and a Normal once it binds", async () => {
    api = await new FakeKubeApi().start();
    const posted: EventToPost[] = [];
    let unbound: { object: string; message: string }[] = [];
    controller = controllerOn(api, {
      events: recorderInto(posted),
      unboundListeners: () => unbound,
    });
    api.apply(service("web", 8080));
    controller.start();
    await controller.synced;
    unbound = [
      { object: "Service/default/web", message: "listener default.web.8080 cannot bind: EADDRINUSE" },
      // An object that is gone (deleted meanwhile) gets nothing.
      { object: "Service/default/gone", message: "listener default.gone.80 cannot bind: EACCES" },
    ];
    controller.markDirty();
    await eventually(() => expect(posted).toHaveLength(1));
    expect(posted[0]).toMatchObject({
      type: "Warning",
      reason: "BindFailed",
      object: { kind: "Service", namespace: "default", name: "web" },
      message: "Service/default/web: listener default.web.8080 cannot bind: EADDRINUSE",
    });
    // Rebuilds while it still fails post nothing new.
    controller.markDirty();
    await sleep(150);
    expect(posted).toHaveLength(1);

    unbound = [];
    controller.markDirty();
    await eventually(() => expect(posted).toHaveLength(2));
    expect(posted[1]).toMatchObject({ type: "Normal", reason: "Configured", object: { name: "web" } });
    controller.markDirty();
    await sleep(150);
    expect(posted).toHaveLength(2);
  });
});
