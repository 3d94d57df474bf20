/**
 * Two `stickylb run --kubernetes` processes against one API double (test/support/fake-kube-api.ts),
 * as two replicas of the Deployment: both serve traffic, they race for one Lease (the double
 * answers 409 to a stale resourceVersion, as the API server does), only the holder writes status
 * and Events, a cookie issued by one is honoured by the other (one `--cookie-secret-file`), and
 * when the leader is killed (SIGKILL, so it cannot release the Lease) the other takes over within
 * the lease duration. Lease timings are shortened through the test-only environment variable.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { FakeKubeApi } from "../support/fake-kube-api.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { endpointSlice, kubeService } from "../support/kube-objects.js";
import { freeTcpPort } from "../support/ports.js";
import { type StickylbProcess, startStickylb, tempDir } from "../support/stickylb-process.js";
import { sleep, timedWithin } from "../support/time.js";

const within = timedWithin;

/** Lease 1.5 s, renew deadline 1 s, retry every 250 ms (production: 15 s, 10 s, 2 s). */
const LEASE_MS = 1500;
const TIMINGS = `${LEASE_MS},1000,250`;

const service = kubeService;
const slice = endpointSlice;

interface Replica {
  readonly name: string;
  readonly listen: string;
  readonly publish: string;
  proc: StickylbProcess;
}

describe("two controller replicas against one API server", () => {
  const tcp: TcpBackend[] = [];
  const web: HttpBackend[] = [];
  let api: FakeKubeApi;
  let replicas: Replica[] = [];
  let metricsPort = 0;

  const holder = (): string | undefined =>
    (api.get("Lease", "stickylb-leader", "stickylb")?.spec as { holderIdentity?: string } | undefined)
      ?.holderIdentity;
  const leader = (): Replica => {
    const found = replicas.find((r) => holder()?.startsWith(`${r.name}_`));
    if (found === undefined) throw new Error(`no replica holds the Lease (holder ${holder()})`);
    return found;
  };
  const statusIp = (kind: string, name: string): unknown =>
    (api.get(kind, name, "shop")?.status as { loadBalancer?: { ingress?: { ip?: string }[] } } | undefined)
      ?.loadBalancer?.ingress?.[0]?.ip;

  beforeAll(async () => {
    tcp.push(await startTcpBackend("t1", "127.0.1.41"));
    web.push(await startHttpBackend("w1", "127.0.1.42"));
    web.push(await startHttpBackend("w2", "127.0.1.43", "name", web[0]!.port));
    api = await new FakeKubeApi().start();
    const dir = tempDir();
    const kubeconfig = api.writeKubeconfig(dir);
    const secret = join(dir, "cookie-secret");
    writeFileSync(secret, "a-secret-of-at-least-32-bytes-shared-by-replicas\n");
    const start = (name: string, listen: string, publish: string, extra: string[] = []): Replica => ({
      name,
      listen,
      publish,
      proc: startStickylb(
        [
          "run",
          "--kubernetes",
          "--kubeconfig",
          kubeconfig,
          "--listen-address",
          listen,
          "--publish-address",
          publish,
          "--cookie-secret-file",
          secret,
          "--drain-timeout",
          "1s",
          ...extra,
        ],
        { POD_NAME: name, POD_NAMESPACE: "stickylb", STICKYLB_TEST_LEADER_TIMINGS: TIMINGS },
      ),
    });
    replicas = [
      start("replica-a", "127.0.0.1", "192.0.2.1", ["--metrics-address", "127.0.0.1:0"]),
      start("replica-b", "127.0.0.2", "192.0.2.2"),
    ];
    await Promise.all(
      replicas.map((r) => r.proc.waitForLog((e) => e.msg === "kubernetes controller synced", 15_000)),
    );
    metricsPort = (await replicas[0]!.proc.waitForLog((e) => e.msg === "metrics listener bound"))
      .port as number;
    await within(5000, async () => leader());
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await api?.close();
    await Promise.all([...tcp, ...web].map((b) => b.close()));
  });

  it("both serve; exactly one writes status, once; a cookie of one replica is honoured by the other", async () => {
    const port = await freeTcpPort();
    api.apply(service("l4", port));
    api.apply(slice("l4", tcp[0]!.port, ["127.0.1.41"]));
    for (const r of replicas) await within(2000, () => whoAnswers(port, "127.0.0.71", r.listen));
    const first = leader();
    await within(2000, async () => expect(statusIp("Service", "l4")).toBe(first.publish));
    // No write from the follower, and no second write from the leader once the status says it.
    await sleep(1000);
    expect(statusIp("Service", "l4")).toBe(first.publish);
    expect(api.count("patch", "services")).toBe(1);
    expect(api.count("update", "leases")).toBeGreaterThan(2);
    // stickylb_leader: 1 on the holder, 0 on the other.
    const leaderGauge = async (r: Replica): Promise<string | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${await r.proc.adminPort()}/metrics`)).text();
      return /^stickylb_leader (\d)$/m.exec(text)?.[1];
    };
    for (const r of replicas) expect(await leaderGauge(r)).toBe(r === first ? "1" : "0");

    const webPort = await freeTcpPort();
    api.apply(service("web", 80, { "kubernetes.io/elb.session-affinity-mode": "HTTP_COOKIE" }, "ClusterIP"));
    api.apply(slice("web", web[0]!.port, ["127.0.1.42", "127.0.1.43"]));
    api.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "shop",
        namespace: "shop",
        annotations: { "kubernetes.io/elb.port": String(webPort) },
      },
      spec: {
        ingressClassName: "stickylb",
        defaultBackend: { service: { name: "web", port: { number: 80 } } },
      },
    });
    const [a, b] = replicas as [Replica, Replica];
    const issued = await within(2000, async () => {
      const answer = await httpGet(webPort, "/", {}, { host: a.listen });
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      return answer;
    });
    const cookie = cookiePair(issued.value.setCookies, "STICKYLB");
    expect(cookie).toBeDefined();
    await within(2000, async () =>
      expect((await httpGet(webPort, "/", {}, { host: b.listen })).status).toBe(200),
    );
    for (let i = 0; i < 6; i++) {
      const answer = await httpGet(webPort, "/", { Cookie: cookie! }, { host: b.listen });
      expect(answer.body).toBe(issued.value.body);
      // A valid cookie is not replaced: the other replica verified it with the same key.
      expect(cookiePair(answer.setCookies, "STICKYLB")).toBeUndefined();
    }
  });

  it("an object left out gets one Warning Event with the error line, and a Normal one once fixed", async () => {
    const port = await freeTcpPort();
    api.apply(service("bad", port, { "kubernetes.io/elb.lb-algorithm": "FASTEST" }));
    const warning = await within(3000, async () => {
      const found = api.all("Event").filter((e) => e.reason === "InvalidConfiguration");
      if (found.length === 0) throw new Error("no Warning Event yet");
      return found;
    });
    const event = warning.value[0]!;
    expect(event).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Service", namespace: "shop", name: "bad", apiVersion: "v1" },
      message:
        'Service/shop/bad: metadata.annotations["kubernetes.io/elb.lb-algorithm"]: "FASTEST" is not valid (one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP)',
    });
    expect((event.involvedObject as { uid?: string }).uid).toBe(
      api.get("Service", "bad", "shop")?.metadata?.uid,
    );
    // Rebuilds caused by other changes do not post it again (and the follower posts nothing).
    for (let i = 0; i < 3; i++) {
      api.apply(slice("bad", tcp[0]!.port, [`127.0.1.${41 + i}`]));
      await sleep(150);
    }
    expect(api.all("Event").filter((e) => e.reason === "InvalidConfiguration")).toHaveLength(1);

    api.apply(service("bad", port, { "kubernetes.io/elb.lb-algorithm": "LEAST_CONNECTIONS" }));
    const fixed = await within(3000, async () => {
      const found = api.all("Event").find((e) => e.type === "Normal");
      if (found === undefined) throw new Error("no Normal Event yet");
      return found;
    });
    expect(fixed.value).toMatchObject({
      reason: "Configured",
      involvedObject: { kind: "Service", name: "bad" },
    });
  });

  it("--metrics-address answers /metrics, /healthz and /readyz without a token, nothing else", async () => {
    const base = `http://127.0.0.1:${metricsPort}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^stickylb_config_errors_total\{kind="Service"\} [1-9]/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/status`)).status).toBe(404);
    expect((await fetch(`${base}/api/v1/pools/x/bindings?key=1`, { method: "DELETE" })).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(404);
  });

  it("killing the leader (SIGKILL) hands the Lease and the status writing over within the lease duration", async () => {
    const old = leader();
    const survivor = replicas.find((r) => r !== old)!;
    const killedAt = Date.now();
    old.proc.child.kill("SIGKILL");
    await old.proc.exited();
    await within(LEASE_MS * 4, async () => expect(leader()).toBe(survivor));
    const tookMs = Date.now() - killedAt;
    if (process.env.SHOW_FIGURES === "1") console.log(`takeover after SIGKILL: ${tookMs} ms`);
    // Lease duration + one retry period, with a margin for a loaded machine.
    expect(tookMs).toBeLessThan(LEASE_MS + 250 + 2500);
    // The new leader writes its own address over the old one's.
    await within(3000, async () => expect(statusIp("Service", "l4")).toBe(survivor.publish));
    await within(3000, async () => expect(statusIp("Ingress", "shop")).toBe(survivor.publish));
    // And keeps serving all along.
    expect(
      await whoAnswers(
        Number((api.get("Service", "l4", "shop")!.spec as { ports: { port: number }[] }).ports[0]!.port),
        "127.0.0.72",
        survivor.listen,
      ),
    ).toBe("t1");
  });
});
