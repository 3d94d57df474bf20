/**
 * The controller against the API double, in process: list, watch, relist after 410 Gone and
 * after a broken watch, bad objects left out while the others are served, status written back.
 */
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubernetesController } from "../../../src/control/k8s/controller.js";
import type { ConfigModel } from "../../../src/core/model.js";
import { FakeKubeApi } from "../../support/fake-kube-api.js";
import { eventually } from "../../support/time.js";

const service = (name: string, port: number, annotations: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", annotations },
  spec: { type: "LoadBalancer", ports: [{ name: "tcp", port, protocol: "TCP" }] },
});

const slice = (service: string, addresses: { ip: string; ready?: boolean; terminating?: boolean }[]) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `${service}-1`, namespace: "default", labels: { "kubernetes.io/service-name": service } },
  addressType: "IPv4",
  ports: [{ name: "tcp", port: 9000, protocol: "TCP" }],
  endpoints: addresses.map((a) => ({
    addresses: [a.ip],
    conditions: { ready: a.ready ?? true, serving: true, terminating: a.terminating ?? false },
  })),
});

describe("KubernetesController against the API double", () => {
  let api: FakeKubeApi;
  let controller: KubernetesController;
  const models: ConfigModel[] = [];
  const last = (): ConfigModel => models[models.length - 1]!;
  const members = (pool: string) =>
    last()
      .pools.find((p) => p.name === pool)
      ?.members.map((m) => `${m.address}${m.draining ? " draining" : ""}`);

  beforeEach(async () => {
    api = await new FakeKubeApi().start();
    models.length = 0;
    controller = new KubernetesController({
      config: api.kubeConfig(),
      converter: { listenAddress: "127.0.0.1" },
      publishAddress: "192.0.2.10",
      log: pino({ level: "silent" }),
      apply: async (model) => {
        models.push(model);
      },
      throttleMs: 20,
    });
  });
  afterEach(async () => {
    await controller.stop();
    await api.close();
  });

  it("lists, then follows watch events; writes the status of served Services", async () => {
    api.apply(service("web", 8080, { "kubernetes.io/elb.session-affinity-mode": "SOURCE_IP" }));
    api.apply(slice("web", [{ ip: "10.0.0.1" }]));
    controller.start();
    await controller.synced;
    expect(members("default.web.8080")).toEqual(["10.0.0.1"]);
    expect(last().pools[0]?.sessionPersistence?.type).toBe("SOURCE_IP");

    api.apply(slice("web", [{ ip: "10.0.0.1", ready: false, terminating: true }, { ip: "10.0.0.2" }]));
    await eventually(() => expect(members("default.web.8080")).toEqual(["10.0.0.1 draining", "10.0.0.2"]));
    await eventually(() =>
      expect(api.get("Service", "web")?.status).toEqual({
        loadBalancer: { ingress: [{ ip: "192.0.2.10" }] },
      }),
    );
    const patches = api.count("patch");
    api.delete("Service", "web");
    await eventually(() => expect(last().listeners).toEqual([]));
    expect(api.count("patch")).toBe(patches);
  });

  it("relists after 410 Gone and after a broken watch, with bookmarks in between", async () => {
    api.apply(service("web", 8080));
    controller.start();
    await controller.synced;
    await eventually(() => expect(api.count("watch", "services")).toBeGreaterThan(0));
    api.bookmark();
    const lists = api.count("list", "services");
    api.expireWatches();
    api.apply(slice("web", [{ ip: "10.0.0.3" }]));
    await eventually(() => expect(members("default.web.8080")).toEqual(["10.0.0.3"]));
    await eventually(() => expect(api.count("list", "services")).toBeGreaterThan(lists));

    api.breakWatches();
    api.apply(service("api", 8081));
    await eventually(() =>
      expect(
        last()
          .listeners.map((l) => l.name)
          .sort(),
      ).toEqual(["default.api.8081", "default.web.8080"]),
    );
    // No count of API errors is asserted here: a watch whose connection is cut may end as a clean
    // close (the client then simply watches again) or as an error, depending on timing. What
    // matters, and is asserted above, is that the change made while it was broken arrives.
  });

  it("leaves a bad object out, keeps its last good configuration, and serves the others", async () => {
    api.apply(service("good", 8080));
    api.apply(service("changing", 8081, { "kubernetes.io/elb.lb-algorithm": "LEAST_CONNECTIONS" }));
    controller.start();
    await controller.synced;
    api.apply(service("changing", 8081, { "kubernetes.io/elb.lb-algorithm": "FASTEST" }));
    api.apply(service("bad-from-start", 8082, { "kubernetes.io/elb.session-affinity-mode": "COOKIE" }));
    api.apply(service("later", 8083));
    await eventually(() => expect(last().listeners.map((l) => l.name)).toContain("default.later.8083"));
    const names = last().listeners.map((l) => l.name);
    expect(names).toContain("default.changing.8081");
    expect(names).not.toContain("default.bad-from-start.8082");
    expect(last().pools.find((p) => p.name === "default.changing.8081")?.algorithm).toBe("LEAST_CONNECTIONS");
    expect(controller.configErrors.get("Service")).toBe(2);
  });
});
