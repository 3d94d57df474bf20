/**
 * Member names and request durations, end to end: named native members appear in the status JSON
 * and the access log (metric labels stay ADDRESS:PORT), and every completed HTTP response is one
 * observation of stickylb_request_duration_seconds{listener,pool}, with p50/p99 in the status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("member names and the request-duration histogram", () => {
  const backends: HttpBackend[] = [];
  let proc: StickylbProcess;
  let port = 0;
  let admin = 0;

  beforeAll(async () => {
    backends.push(await startHttpBackend("alpha", "127.0.1.1"), await startHttpBackend("bravo", "127.0.1.2"));
    port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: names}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: web, accessLog: true}
  pools:
    - name: web
      members:
        - {name: alpha-0, address: ${backends[0]!.address}, port: ${backends[0]!.port}}
        - {address: ${backends[1]!.address}, port: ${backends[1]!.port}}
`,
    );
    proc = await runStickylb([file]);
    admin = await proc.adminPort();
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("names members in the status and the access log, never in metric labels", async () => {
    for (let i = 0; i < 4; i++) expect((await httpGet(port)).status).toBe(200);
    const status = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/status`)).json()) as {
      pools: { members: { endpoint: string; name: string | null }[] }[];
    };
    const members = status.pools[0]!.members;
    expect(members.map((m) => m.name)).toEqual(["alpha-0", null]);
    const line = await proc.waitForLog((e) => e.msg === "access" && e.memberName === "alpha-0");
    expect(line.member).toBe(`${backends[0]!.address}:${backends[0]!.port}`);
    await proc.waitForLog((e) => e.msg === "access" && e.memberName === null && e.member !== null);
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(text).not.toContain("alpha-0");
  });

  it("observes one duration per response and reports p50/p99 from the buckets", async () => {
    const metricsBefore = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    const before =
      metric(metricsBefore, "stickylb_request_duration_seconds_count", 'listener="web",pool="web"') ?? 0;
    for (let i = 0; i < 5; i++) await httpGet(port);
    // The backend holds the end of this body for 200 ms: one observation of at least 0.2 s.
    expect((await httpGet(port, "/slow-body")).body).toContain("done");
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(text).toContain("# TYPE stickylb_request_duration_seconds histogram");
    const labels = 'listener="web",pool="web"';
    const count = metric(text, "stickylb_request_duration_seconds_count", labels)!;
    expect(count - before).toBe(6);
    expect(metric(text, "stickylb_request_duration_seconds_bucket", `le="+Inf",${labels}`)).toBe(count);
    // The slow response is not in any bucket up to 0.1 s, whatever the load of the machine.
    expect(metric(text, "stickylb_request_duration_seconds_bucket", `le="0.1",${labels}`)!).toBeLessThan(
      count,
    );
    expect(metric(text, "stickylb_request_duration_seconds_sum", labels)!).toBeGreaterThanOrEqual(0.2);

    const status = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/status`)).json()) as {
      listeners: { name: string; latency: { p50: number; p99: number; count: number; buckets: number[] } }[];
    };
    const latency = status.listeners[0]!.latency;
    expect(latency.count).toBe(count);
    expect(latency.buckets.reduce((n, c) => n + c, 0)).toBe(count);
    // The slowest of these 10 responses took at least 0.2 s; p99 lies in its bucket (above 0.1 s).
    expect(latency.p99).toBeGreaterThan(0.1);
    expect(latency.p50).toBeLessThanOrEqual(latency.p99);
  });
});
