/**
 * Kubernetes objects from files, end to end: the CCE sticky-session guide's Layer 4 and Layer 7
 * examples with EndpointSlices pointing at real backends on 127.0.1.x, and `validate` refusing a
 * bad annotation (also Gateway API objects and ingress-nginx annotations) with exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  runStickylb,
  type StickylbProcess,
  startStickylb,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

const slice = (
  service: string,
  port: number,
  ips: string[],
  portName = "cce-service-0",
) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-x1
  namespace: default
  labels: {kubernetes.io/service-name: ${service}}
addressType: IPv4
ports: [{name: ${portName}, port: ${port}, protocol: TCP}]
endpoints:
${ips.map((ip) => `  - addresses: ["${ip}"]\n    conditions: {ready: true}`).join("\n")}
`;

describe("Kubernetes objects from files", () => {
  const tcp: TcpBackend[] = [];
  const web: HttpBackend[] = [];
  const processes: StickylbProcess[] = [];

  beforeAll(async () => {
    tcp.push(await startTcpBackend("b1", "127.0.1.1"));
    for (const i of [2, 3]) tcp.push(await startTcpBackend(`b${i}`, `127.0.1.${i}`, tcp[0]!.port));
    web.push(await startHttpBackend("h1", "127.0.1.4"));
    web.push(await startHttpBackend("h2", "127.0.1.5", "name", web[0]!.port));
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([...tcp, ...web].map((b) => b.close()));
  });

  it("CCE guide, Layer 4: svc-example with ROUND_ROBIN and SOURCE_IP affinity keeps each client IP on one backend", async () => {
    const port = await freeTcpPort();
    const dir = tempDir();
    const file = writeConfig(
      dir,
      "svc.yaml",
      `apiVersion: v1
kind: Service
metadata:
  name: svc-example
  namespace: default
  annotations:
    kubernetes.io/elb.class: union
    kubernetes.io/elb.id: 56dcc1b4-8810-480c-940a-a44f7736f0dc
    kubernetes.io/elb.lb-algorithm: ROUND_ROBIN
    kubernetes.io/elb.session-affinity-mode: SOURCE_IP
spec:
  selector: {app: nginx}
  externalTrafficPolicy: Local
  ports:
    - {name: cce-service-0, targetPort: 80, nodePort: 32633, port: ${port}, protocol: TCP}
  type: LoadBalancer
---
${slice("svc-example", tcp[0]!.port, ["127.0.1.1", "127.0.1.2", "127.0.1.3"])}`,
    );
    processes.push(await runStickylb([file], ["--listen-address", "127.0.0.1"]));
    const used = new Set<string>();
    for (let c = 0; c < 12; c++) {
      const ip = `127.0.0.${30 + c}`;
      const first = await whoAnswers(port, ip);
      used.add(first);
      for (let k = 0; k < 3; k++) expect(await whoAnswers(port, ip), `client ${ip}`).toBe(first);
    }
    // Round robin placed the new clients over all three backends.
    expect(used).toEqual(new Set(["b1", "b2", "b3"]));
  });

  it("CCE guide, Layer 7: nginx with HTTP_COOKIE (1440 min) behind ingress-test on www.example.com", async () => {
    const port = await freeTcpPort();
    const dir = tempDir();
    const file = writeConfig(
      dir,
      "ingress.yaml",
      `apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: default
  annotations:
    kubernetes.io/elb.lb-algorithm: ROUND_ROBIN
    kubernetes.io/elb.session-affinity-mode: HTTP_COOKIE
    kubernetes.io/elb.session-affinity-option: '{"persistence_timeout":"1440"}'
spec:
  selector: {app: nginx}
  ports: [{name: cce-service-0, protocol: TCP, port: 80, targetPort: 80, nodePort: 32633}]
  type: NodePort
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ingress-test
  namespace: default
  annotations:
    kubernetes.io/elb.class: union
    kubernetes.io/elb.port: '${port}'
spec:
  ingressClassName: cce
  rules:
    - host: www.example.com
      http:
        paths:
          - path: /
            pathType: ImplementationSpecific
            backend: {service: {name: nginx, port: {number: 80}}}
---
${slice("nginx", web[0]!.port, ["127.0.1.4", "127.0.1.5"])}`,
    );
    processes.push(await runStickylb([file], ["--listen-address", "127.0.0.1"]));
    const host = { Host: `www.example.com:${port}` };
    const first = await httpGet(port, "/", host);
    expect(first.status).toBe(200);
    expect(first.setCookies[0]).toMatch(/^STICKYLB=[^;]+; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/);
    const cookie = cookiePair(first.setCookies, "STICKYLB")!;
    for (let i = 0; i < 6; i++)
      expect((await httpGet(port, "/", { ...host, Cookie: cookie })).body).toBe(first.body);
    // Without the cookie, round robin alternates between the two members.
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await httpGet(port, "/", host)).body);
    expect(bodies.size).toBe(2);
    expect((await httpGet(port, "/", { Host: "other.example.com" })).status).toBe(404);
  });

  it("validate: an invalid annotation exits 2 naming the object and the annotation", async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      "bad.yaml",
      `apiVersion: v1
kind: Service
metadata:
  name: svc-example
  annotations:
    kubernetes.io/elb.session-affinity-mode: SOURCE_IP
    kubernetes.io/elb.session-affinity-option: '{"persistence_timeout": "90"}'
spec:
  type: LoadBalancer
  ports: [{port: 80}]
`,
    );
    const proc = startStickylb(["validate", "-f", file]);
    expect(await proc.exited()).toBe(2);
    expect(proc.stderr()).toContain(
      `${file}:7:5: Service/default/svc-example: metadata.annotations["kubernetes.io/elb.session-affinity-option"]: persistence_timeout "90" is out of range (minutes for SOURCE_IP, an integer 1–60)`,
    );
  });

  it("validate: Gateway API objects and ingress-nginx annotations from files give error lines, exit 2", async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      "gateway.yaml",
      `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: stickylb}
spec: {controllerName: stickylb.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: stickylb
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
    - matches: [{path: {type: RegularExpression, value: "/a.*"}}]
      sessionPersistence: {type: Header, idleTimeout: 2h, absoluteTimeout: 1h}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: old
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/session-cookie-samesite: lax
spec:
  ingressClassName: stickylb
  defaultBackend: {service: {name: app, port: {number: 80}}}
`,
    );
    const proc = startStickylb(["validate", "-f", file]);
    expect(await proc.exited()).toBe(2);
    const lines = proc.stderr();
    expect(lines).toContain(
      `${file}:19:25: HTTPRoute/shop/app: spec.rules[0].matches[0].path.type: "RegularExpression" is not supported (PathPrefix or Exact; RegularExpression is not implemented)`,
    );
    expect(lines).toContain(
      `${file}:20:59: HTTPRoute/shop/app: spec.rules[0].sessionPersistence.absoluteTimeout: "1h" is shorter than idleTimeout "2h" (at least the idle timeout)`,
    );
    expect(lines).toContain(
      `${file}:29:5: Ingress/shop/old: metadata.annotations["nginx.ingress.kubernetes.io/session-cookie-samesite"]: "lax" is not valid (one of None, Lax, Strict)`,
    );
  });
});
