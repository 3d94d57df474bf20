/**
 * `stickylb run --kubernetes` end to end against the API double (test/support/fake-kube-api.ts):
 * Services, EndpointSlices and Ingresses created, changed and deleted in the store show up on the
 * wire within a second, open connections are untouched, a terminating endpoint keeps its sticky
 * clients, and broken or expired watches recover.
 */
import type * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndReadName, startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { FakeKubeApi } from "../support/fake-kube-api.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { endpointSlice, kubeService, startController } from "../support/kube-objects.js";
import { freeTcpPort } from "../support/ports.js";
import type { StickylbProcess } from "../support/stickylb-process.js";
import { timedWithin } from "../support/time.js";

/** Polls `probe` until it passes; resolves with the time it took. */
const within = <T>(ms: number, probe: () => Promise<T>) => timedWithin(ms, probe, 20);

const service = kubeService;
const slice = endpointSlice;

async function echo(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (chunk: Buffer | string): void => {
      got += chunk.toString();
      if (got.includes("\n")) {
        socket.off("data", onData);
        resolve(got.trim());
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(`${text}\n`);
  });
}

describe("stickylb run --kubernetes against a Kubernetes API double", () => {
  const tcp: TcpBackend[] = [];
  const web: HttpBackend[] = [];
  let api: FakeKubeApi;
  let proc: StickylbProcess;

  beforeAll(async () => {
    tcp.push(await startTcpBackend("b1", "127.0.1.21"));
    for (const i of [2, 3]) tcp.push(await startTcpBackend(`b${i}`, `127.0.1.2${i}`, tcp[0]!.port));
    web.push(await startHttpBackend("h1", "127.0.1.24"));
    web.push(await startHttpBackend("h2", "127.0.1.25", "name", web[0]!.port));
    api = await new FakeKubeApi().start();
    proc = await startController(api, ["--publish-address", "192.0.2.7", "--drain-timeout", "10s"]);
  });
  afterAll(async () => {
    await proc?.stop();
    await api?.close();
    await Promise.all([...tcp, ...web].map((b) => b.close()));
  });

  it("follows a Service and its EndpointSlice: listeners, members and SOURCE_IP stickiness, open connections untouched", async () => {
    const port = await freeTcpPort();
    const backendPort = tcp[0]!.port;
    api.apply(service("l4", port, { "kubernetes.io/elb.session-affinity-mode": "SOURCE_IP" }));
    api.apply(slice("l4", backendPort, [{ ip: "127.0.1.21" }, { ip: "127.0.1.22" }]));
    const created = await within(1000, () => whoAnswers(port, "127.0.0.61"));
    expect(["b1", "b2"]).toContain(created.value);
    expect(created.tookMs).toBeLessThan(1000);
    await within(2000, async () =>
      expect(api.get("Service", "l4", "shop")?.status).toEqual({
        loadBalancer: { ingress: [{ ip: "192.0.2.7" }] },
      }),
    );

    // Client A is bound; an open connection is held across every change below.
    const a = "127.0.0.62";
    const bound = await whoAnswers(port, a);
    const held = await connectAndReadName(port, "127.0.0.63");
    for (let i = 0; i < 4; i++) expect(await whoAnswers(port, a)).toBe(bound);

    // A third member joins: new clients reach it, A stays on its member.
    api.apply(slice("l4", backendPort, [{ ip: "127.0.1.21" }, { ip: "127.0.1.22" }, { ip: "127.0.1.23" }]));
    // Fresh client IPs on every attempt: a client placed before the change stays bound where it is.
    let next = 0;
    const fresh = (): string => `127.0.${2 + Math.floor(next / 250)}.${1 + (next++ % 250)}`;
    const joined = await within(1000, async () => {
      const names = new Set<string>();
      for (let c = 0; c < 6; c++) names.add(await whoAnswers(port, fresh()));
      if (!names.has("b3")) throw new Error(`b3 not reached yet: ${[...names]}`);
      return names;
    });
    expect(joined.tookMs).toBeLessThan(1000);
    expect(await whoAnswers(port, a)).toBe(bound);

    // A's member turns terminating but serving: A keeps it, new clients never get it.
    const endpoints = ["127.0.1.21", "127.0.1.22", "127.0.1.23"];
    const boundIp = endpoints[["b1", "b2", "b3"].indexOf(bound)]!;
    api.apply(
      slice(
        "l4",
        backendPort,
        endpoints.map((ip) => ({ ip, state: ip === boundIp ? "terminating" : "ready" })),
      ),
    );
    await within(1000, async () => {
      const names = new Set<string>();
      for (let c = 0; c < 8; c++) names.add(await whoAnswers(port, fresh()));
      if (names.has(bound)) throw new Error(`new clients still reach the draining ${bound}`);
    });
    for (let i = 0; i < 4; i++) expect(await whoAnswers(port, a)).toBe(bound);

    expect(await echo(held.socket, "still-open")).toBe("still-open");
    held.socket.destroy();
  });

  it("recovers from a broken watch and from 410 Gone, and follows deletions", async () => {
    const port = await freeTcpPort();
    const backendPort = tcp[0]!.port;
    api.apply(service("recover", port));
    api.apply(slice("recover", backendPort, [{ ip: "127.0.1.21" }]));
    await within(1000, () => whoAnswers(port, "127.0.0.91"));
    api.bookmark();

    const lists = api.count("list");
    api.breakWatches();
    api.apply(slice("recover", backendPort, [{ ip: "127.0.1.22" }]));
    await within(5000, async () => expect(await whoAnswers(port, "127.0.0.92")).toBe("b2"));

    api.expireWatches();
    api.apply(slice("recover", backendPort, [{ ip: "127.0.1.23" }]));
    await within(5000, async () => expect(await whoAnswers(port, "127.0.0.93")).toBe("b3"));
    expect(api.count("list")).toBeGreaterThan(lists);

    api.delete("Service", "recover", "shop");
    const deleted = await within(1000, async () => {
      await expect(whoAnswers(port, "127.0.0.94")).rejects.toThrow();
    });
    expect(deleted.tookMs).toBeLessThan(1000);
  });

  it("leaves a Service with a bad annotation out, logs it, and keeps serving the others", async () => {
    const bad = await freeTcpPort();
    const good = await freeTcpPort();
    api.apply(service("bad", bad, { "kubernetes.io/elb.lb-algorithm": "FASTEST" }));
    api.apply(service("good", good));
    api.apply(slice("good", tcp[0]!.port, [{ ip: "127.0.1.21" }]));
    await within(1000, () => whoAnswers(good, "127.0.0.95"));
    const logged = await proc.waitForLog((e) => e.object === "Service/shop/bad", 2000);
    expect(logged.problem).toBe('"FASTEST" is not valid (one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP)');
    expect(logged.path).toBe('metadata.annotations["kubernetes.io/elb.lb-algorithm"]');
    await expect(whoAnswers(bad, "127.0.0.96")).rejects.toThrow();
    // docs/reference/annotations.md: the error is counted by kind on the admin API.
    const metrics = await (await fetch(`http://127.0.0.1:${await proc.adminPort()}/metrics`)).text();
    expect(metrics).toMatch(/^stickylb_config_errors_total\{kind="Service"\} [1-9]\d*$/m);
  });

  it("an Ingress of class cce with HTTP_COOKIE on its Service: cookie stickiness on the wire, then the Ingress is deleted", async () => {
    const port = await freeTcpPort();
    api.apply(
      service(
        "nginx",
        80,
        {
          "kubernetes.io/elb.session-affinity-mode": "HTTP_COOKIE",
          "kubernetes.io/elb.session-affinity-option": '{"persistence_timeout": "60"}',
        },
        "ClusterIP",
      ),
    );
    api.apply(slice("nginx", web[0]!.port, [{ ip: "127.0.1.24" }, { ip: "127.0.1.25" }]));
    api.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "ingress-test",
        namespace: "shop",
        annotations: { "kubernetes.io/elb.port": String(port) },
      },
      spec: {
        ingressClassName: "cce",
        rules: [
          {
            host: "www.example.com",
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: "nginx", port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const host = { Host: "www.example.com" };
    const first = await within(1000, async () => {
      const answer = await httpGet(port, "/", host);
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      return answer;
    });
    expect(first.tookMs).toBeLessThan(1000);
    expect(first.value.setCookies[0]).toMatch(/Max-Age=3600/);
    const cookie = cookiePair(first.value.setCookies, "STICKYLB")!;
    for (let i = 0; i < 5; i++)
      expect((await httpGet(port, "/", { ...host, Cookie: cookie })).body).toBe(first.value.body);
    await within(2000, async () =>
      expect(api.get("Ingress", "ingress-test", "shop")?.status).toEqual({
        loadBalancer: { ingress: [{ ip: "192.0.2.7" }] },
      }),
    );
    api.delete("Ingress", "ingress-test", "shop");
    await within(1000, async () => {
      await expect(httpGet(port, "/", host)).rejects.toThrow();
    });
  });
});
