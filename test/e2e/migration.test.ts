/**
 * Migrating to stickylb, end to end against the Kubernetes API double: an Ingress written for
 * ingress-nginx, taken over with `--ingress-class nginx`, keeps its cookie affinity (cookie name,
 * path and Max-Age from the annotations) and its other ingress-nginx annotations are reported once
 * by an Event; a Service with kube-proxy's `sessionAffinity: ClientIP` keeps each client address
 * on one member.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { FakeKubeApi } from "../support/fake-kube-api.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { endpointSlice, startController } from "../support/kube-objects.js";
import { freeTcpPort } from "../support/ports.js";
import type { StickylbProcess } from "../support/stickylb-process.js";
import { within } from "../support/time.js";

const slice = endpointSlice;

describe("migration from ingress-nginx and kube-proxy affinity", () => {
  const web: HttpBackend[] = [];
  const tcp: TcpBackend[] = [];
  let api: FakeKubeApi;
  let proc: StickylbProcess;

  beforeAll(async () => {
    web.push(await startHttpBackend("n1", "127.0.1.51"));
    web.push(await startHttpBackend("n2", "127.0.1.52", "name", web[0]!.port));
    tcp.push(await startTcpBackend("t1", "127.0.1.53"));
    tcp.push(await startTcpBackend("t2", "127.0.1.54", tcp[0]!.port));
    api = await new FakeKubeApi().start();
    proc = await startController(api, ["--ingress-class", "nginx"]);
  });
  afterAll(async () => {
    await proc?.stop();
    await api?.close();
    await Promise.all([...web, ...tcp].map((b) => b.close()));
  });

  it("serves an ingress-nginx Ingress with its cookie affinity and reports the annotations it does not honour", async () => {
    const port = await freeTcpPort();
    api.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "app", namespace: "shop" },
      spec: { type: "ClusterIP", ports: [{ name: "main", port: 80, protocol: "TCP" }] },
    });
    api.apply(slice("app", web[0]!.port, ["127.0.1.51", "127.0.1.52"]));
    api.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "app",
        namespace: "shop",
        annotations: {
          "kubernetes.io/elb.port": String(port),
          "nginx.ingress.kubernetes.io/affinity": "cookie",
          "nginx.ingress.kubernetes.io/session-cookie-name": "route",
          "nginx.ingress.kubernetes.io/session-cookie-max-age": "3600",
          "nginx.ingress.kubernetes.io/session-cookie-path": "/app",
          "nginx.ingress.kubernetes.io/rewrite-target": "/",
        },
      },
      spec: {
        ingressClassName: "nginx",
        rules: [
          {
            host: "app.example.com",
            http: {
              paths: [
                {
                  path: "/app",
                  pathType: "Prefix",
                  backend: { service: { name: "app", port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const host = { Host: "app.example.com" };
    const first = await within(3000, async () => {
      const answer = await httpGet(port, "/app", host);
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      return answer;
    });
    const setCookie = first.setCookies.find((c) => c.startsWith("route="));
    expect(setCookie).toMatch(/Max-Age=3600/);
    expect(setCookie).toMatch(/Path=\/app/);
    const cookie = cookiePair(first.setCookies, "route")!;
    for (let i = 0; i < 6; i++)
      expect((await httpGet(port, "/app/x", { ...host, Cookie: cookie })).body).toBe(first.body);

    const events = await within(5000, async () => {
      const found = api.all("Event").filter((e) => e.reason === "AnnotationNotHonoured");
      if (found.length === 0) throw new Error("no Event yet");
      return found;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Ingress", name: "app", namespace: "shop" },
    });
    expect(String(events[0]?.message)).toContain("nginx.ingress.kubernetes.io/rewrite-target");
    // Later rebuilds do not report it again.
    api.apply(slice("app", web[0]!.port, ["127.0.1.52", "127.0.1.51"]));
    await new Promise((r) => setTimeout(r, 600));
    expect(api.all("Event").filter((e) => e.reason === "AnnotationNotHonoured")).toHaveLength(1);
  });

  it("keeps each client address on one member for a Service with sessionAffinity: ClientIP", async () => {
    const port = await freeTcpPort();
    api.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "game", namespace: "shop" },
      spec: {
        type: "LoadBalancer",
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        ports: [{ name: "main", port, protocol: "TCP" }],
      },
    });
    api.apply(slice("game", tcp[0]!.port, ["127.0.1.53", "127.0.1.54"]));
    // Three clients over two members: round robin alone would give each client the other member next round.
    const clients = ["127.0.0.81", "127.0.0.82", "127.0.0.83"];
    const firstAnswers = await within(3000, async () => Promise.all(clients.map((c) => whoAnswers(port, c))));
    for (let round = 0; round < 3; round++)
      for (const [i, client] of clients.entries())
        expect(await whoAnswers(port, client)).toBe(firstAnswers[i]);
    expect(new Set(firstAnswers)).toEqual(new Set(["t1", "t2"]));
  });
});
