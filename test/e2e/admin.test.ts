import { writeFileSync } from "node:fs";
import { join } from "node:path";
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
import { sleep } from "../support/time.js";

function members(list: readonly { address: string; port: number }[]): string {
  return list.map((b) => `        - {address: ${b.address}, port: ${b.port}}`).join("\n");
}

/** The value of one series in Prometheus text, or undefined when absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function admin(port: number, path: string, init: RequestInit = {}) {
  return fetch(`http://127.0.0.1:${port}${path}`, init);
}

interface StatusMember {
  address: string;
  port: number;
  weight: number;
  up: boolean;
  draining: boolean;
  activeConnections: number;
  bindings: number;
}
interface Status {
  listeners: { name: string; protocol: string; address: string; port: number }[];
  pools: {
    name: string;
    algorithm: string;
    sessionPersistence: string | null;
    decisions: Record<string, number>;
    members: StatusMember[];
  }[];
}

describe("admin API after known traffic", () => {
  const tcp: TcpBackend[] = [];
  const web: HttpBackend[] = [];
  const app: HttpBackend[] = [];
  let lb: StickylbProcess;
  let tcpPort = 0;
  let webPort = 0;
  let appPort = 0;
  let adminPort = 0;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) tcp.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
    for (let i = 1; i <= 2; i++) web.push(await startHttpBackend(`w${i}`, `127.0.1.${i}`));
    for (let i = 1; i <= 2; i++) app.push(await startHttpBackend(`a${i}`, `127.0.1.${i}`, "jsessionid"));
    tcpPort = await freeTcpPort();
    webPort = await freeTcpPort();
    appPort = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: admin}
spec:
  cookieSecret: {value: "0123456789abcdef0123456789abcdef"}
  listeners:
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: tcp, accessLog: true}
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${webPort}, defaultPool: web, accessLog: true}
    - {name: app, protocol: HTTP, address: 127.0.0.1, port: ${appPort}, defaultPool: app}
  pools:
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 10m}
      members:
${members(tcp)}
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: HTTP_COOKIE}
      members:
${members(web)}
    - name: app
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID}
      members:
${members(app)}
`,
    );
    lb = await runStickylb([file]);
    adminPort = await lb.adminPort();
  });
  afterAll(async () => {
    await lb?.stop();
    await Promise.all([...tcp, ...web, ...app].map((b) => b.close()));
  });

  it("counts TCP connections, HTTP requests and affinity decisions exactly", async () => {
    expect(await whoAnswers(tcpPort, "127.0.0.1")).toBe("t1");
    expect(await whoAnswers(tcpPort, "127.0.0.1")).toBe("t1");
    expect(await whoAnswers(tcpPort, "127.0.0.1")).toBe("t1");
    expect(await whoAnswers(tcpPort, "127.0.0.2")).toBe("t2");

    const first = await httpGet(webPort);
    expect(first.body).toBe("w1\n");
    const cookie = cookiePair(first.setCookies, "STICKYLB")!;
    expect((await httpGet(webPort, "/", { Cookie: cookie })).body).toBe("w1\n");
    expect((await httpGet(webPort, "/?secret=1", { Cookie: cookie })).body).toBe("w1\n");
    const forged = `${cookie.slice(0, -2)}${cookie.endsWith("AA") ? "BB" : "AA"}`;
    expect((await httpGet(webPort, "/", { Cookie: forged })).body).toBe("w2\n");

    // Connections close asynchronously on the load balancer's side.
    let text = "";
    for (let i = 0; i < 50; i++) {
      text = await (await admin(adminPort, "/metrics")).text();
      if (series(text, "stickylb_listener_open_connections", 'listener="tcp"') === 0) break;
      await sleep(50);
    }
    expect(series(text, "stickylb_connections_total", 'listener="tcp"')).toBe(4);
    expect(series(text, "stickylb_connections_total", 'listener="web"')).toBe(4);
    expect(
      series(
        text,
        "stickylb_requests_total",
        'listener="web",pool="web",member="127.0.1.1:' + web[0]!.port + '",code="200"',
      ),
    ).toBe(3);
    expect(
      series(
        text,
        "stickylb_requests_total",
        'listener="web",pool="web",member="127.0.1.2:' + web[1]!.port + '",code="200"',
      ),
    ).toBe(1);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="tcp",result="miss"')).toBe(2);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="tcp",result="hit"')).toBe(2);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="web",result="miss"')).toBe(1);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="web",result="hit"')).toBe(2);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="web",result="invalid"')).toBe(1);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="web",result="expired"')).toBe(0);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="web",result="redispatch"')).toBe(0);
    expect(series(text, "stickylb_bindings", 'pool="tcp"')).toBe(2);
    expect(series(text, "stickylb_bindings", 'pool="web"')).toBeUndefined();
    const t1 = `pool="tcp",member="127.0.1.1:${tcp[0]!.port}"`;
    expect(series(text, "stickylb_member_connections_total", t1)).toBe(3);
    expect(series(text, "stickylb_member_active_connections", t1)).toBe(0);
    expect(series(text, "stickylb_member_up", t1)).toBe(1);
    expect(series(text, "stickylb_member_weight", t1)).toBe(1);
    // Each backend greeted with "t1\n" (3 bytes) and the client sent nothing.
    expect(series(text, "stickylb_member_bytes_out_total", t1)).toBe(9);
    expect(series(text, "stickylb_bytes_out_total", 'listener="tcp"')).toBe(12);
    expect(series(text, "stickylb_config_reloads_total", 'result="ok"')).toBe(0);
    expect(series(text, "stickylb_config_reloads_total", 'result="error"')).toBe(0);
    expect(text).toMatch(/^stickylb_process_resident_memory_bytes \d+/m);
    expect(text).not.toContain("127.0.0.2");

    const status = (await (await admin(adminPort, "/api/v1/status")).json()) as Status;
    expect(
      status.listeners.map(({ name, protocol, address, port }) => ({ name, protocol, address, port })),
    ).toEqual([
      { name: "tcp", protocol: "TCP", address: "127.0.0.1", port: tcpPort },
      { name: "web", protocol: "HTTP", address: "127.0.0.1", port: webPort },
      { name: "app", protocol: "HTTP", address: "127.0.0.1", port: appPort },
    ]);
    const tcpPool = status.pools.find((p) => p.name === "tcp")!;
    expect(tcpPool.algorithm).toBe("ROUND_ROBIN");
    expect(tcpPool.sessionPersistence).toBe("SOURCE_IP");
    expect(
      tcpPool.members.map(({ address, port, weight, up, draining, activeConnections, bindings }) => ({
        address,
        port,
        weight,
        up,
        draining,
        activeConnections,
        bindings,
      })),
    ).toEqual(
      tcp.map((b, i) => ({
        address: b.address,
        port: b.port,
        weight: 1,
        up: true,
        draining: false,
        activeConnections: 0,
        bindings: i < 2 ? 1 : 0,
      })),
    );
    expect(status.pools.find((p) => p.name === "web")!.decisions).toEqual({
      hit: 2,
      miss: 1,
      expired: 0,
      invalid: 1,
      redispatch: 0,
    });
  });

  it("writes one access log line per request and connection, without cookie values or query strings", async () => {
    await lb.waitForLog((e) => e.msg === "access" && e.listener === "tcp" && e.client === "127.0.0.2");
    const lines = lb
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"msg":"access"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const webLines = lines.filter((l) => l.listener === "web");
    expect(webLines.map((l) => [l.affinity, l.status, l.path])).toEqual([
      ["miss", 200, "/"],
      ["hit", 200, "/"],
      ["hit", 200, "/"],
      ["invalid", 200, "/"],
    ]);
    for (const l of webLines) {
      expect(l).toMatchObject({ client: "127.0.0.1", pool: "web", protocol: "HTTP", method: "GET" });
      expect(typeof l.durationMs).toBe("number");
    }
    // TCP lines are written when a connection closes, and closes may finish in any order.
    const tcpLines = lines.filter((l) => l.listener === "tcp");
    expect(tcpLines.map((l) => [l.client, l.affinity, l.member].join(" ")).sort()).toEqual(
      [
        `127.0.0.1 miss 127.0.1.1:${tcp[0]!.port}`,
        `127.0.0.1 hit 127.0.1.1:${tcp[0]!.port}`,
        `127.0.0.1 hit 127.0.1.1:${tcp[0]!.port}`,
        `127.0.0.2 miss 127.0.1.2:${tcp[1]!.port}`,
      ].sort(),
    );
    expect(tcpLines.find((l) => l.affinity === "miss" && l.client === "127.0.0.1")).toMatchObject({
      bytesOut: 3,
      bytesIn: 0,
    });
    expect(lb.stdout()).not.toContain("STICKYLB=");
    expect(lb.stdout()).not.toContain("secret=1");
  });

  it("looks a binding up, deletes it, and the client is placed afresh", async () => {
    const found = await admin(adminPort, "/api/v1/pools/tcp/bindings?key=127.0.0.1");
    expect(found.status).toBe(200);
    const body = (await found.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      pool: "tcp",
      key: "127.0.0.1",
      bound: true,
      member: `127.0.1.1:${tcp[0]!.port}`,
    });
    expect(body.why).toMatch(/SOURCE_IP binding placed by ROUND_ROBIN/);

    const del = await admin(adminPort, "/api/v1/pools/tcp/bindings?key=127.0.0.1", { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ deleted: true, member: `127.0.1.1:${tcp[0]!.port}` });
    expect((await admin(adminPort, "/api/v1/pools/tcp/bindings?key=127.0.0.1")).status).toBe(404);

    // Round robin continues after t1, t2: the client, placed afresh, lands on t3 and stays there.
    expect(await whoAnswers(tcpPort, "127.0.0.1")).toBe("t3");
    expect(await whoAnswers(tcpPort, "127.0.0.1")).toBe("t3");
    const text = await (await admin(adminPort, "/metrics")).text();
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="tcp",result="miss"')).toBe(3);
    expect(series(text, "stickylb_affinity_decisions_total", 'pool="tcp",result="hit"')).toBe(3);

    const audit = await lb.waitForLog((e) => e.audit === "binding.delete");
    expect(audit).toMatchObject({ pool: "tcp", key: "127.0.0.1", outcome: "deleted", status: 200 });
    await lb.waitForLog((e) => e.audit === "binding.lookup" && e.outcome === "not bound");
  });

  it("audits APP_COOKIE lookups and deletes with a hash of the key, never the cookie value", async () => {
    const first = await httpGet(appPort);
    const session = cookiePair(first.setCookies, "JSESSIONID")!.slice("JSESSIONID=".length);
    const path = `/api/v1/pools/app/bindings?key=${encodeURIComponent(session)}`;
    const found = await admin(adminPort, path);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ bound: true, member: `127.0.1.1:${app[0]!.port}` });
    expect((await admin(adminPort, path, { method: "DELETE" })).status).toBe(200);
    const audit = await lb.waitForLog((e) => e.audit === "binding.delete" && e.pool === "app");
    expect(audit.key).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(lb.stdout()).not.toContain(session);
    // Placed afresh: round robin moves on to a2, which starts a new session.
    const again = await httpGet(appPort, "/", { Cookie: `JSESSIONID=${session}` });
    expect(again.body).toBe("a2\n");
  });

  it("answers errors clearly", async () => {
    expect((await admin(adminPort, "/api/v1/pools/nope/bindings?key=1.2.3.4")).status).toBe(404);
    expect((await admin(adminPort, "/api/v1/pools/tcp/bindings")).status).toBe(400);
    expect((await admin(adminPort, "/api/v1/pools/web/bindings?key=x", { method: "DELETE" })).status).toBe(
      409,
    );
    expect((await admin(adminPort, "/metrics", { method: "POST" })).status).toBe(405);
    expect((await admin(adminPort, "/nothing")).status).toBe(404);
    const page = await admin(adminPort, "/");
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("/api/v1/status".slice(1));
  });
});

describe("admin listener off loopback", () => {
  it("refuses to start without a token", async () => {
    const dir = tempDir();
    const port = await freeTcpPort();
    const file = writeConfig(
      dir,
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: t}
spec:
  listeners: [{name: l, protocol: TCP, address: 127.0.0.1, port: ${port}, defaultPool: p}]
  pools: [{name: p, algorithm: ROUND_ROBIN, members: []}]
`,
    );
    const proc = startStickylb(["run", "-f", file, "--admin", "0.0.0.0:0"]);
    expect(await proc.exited()).toBe(2);
    expect(proc.stderr()).toMatch(
      /SLB_ERR_ADMIN_TOKEN: the admin listener on 0\.0\.0\.0 .*--admin-token-file/,
    );
  });

  it("requires the bearer token on the API when one is configured", async () => {
    const dir = tempDir();
    const port = await freeTcpPort();
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "s3cret-token-0123456789\n");
    const file = writeConfig(
      dir,
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: t}
spec:
  listeners: [{name: l, protocol: TCP, address: 127.0.0.1, port: ${port}, defaultPool: p}]
  pools: [{name: p, algorithm: ROUND_ROBIN, members: []}]
`,
    );
    const proc = await runStickylb([file], ["--admin-token-file", tokenFile]);
    try {
      const adminPort = await proc.adminPort();
      expect((await admin(adminPort, "/healthz")).status).toBe(200);
      expect((await admin(adminPort, "/metrics")).status).toBe(401);
      expect(
        (await admin(adminPort, "/api/v1/status", { headers: { Authorization: "Bearer wrong" } })).status,
      ).toBe(401);
      const ok = await admin(adminPort, "/metrics", {
        headers: { Authorization: "Bearer s3cret-token-0123456789" },
      });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("stickylb_connections_total");
      const explainPath = "/api/v1/explain?listener=l&client=127.0.0.2";
      expect((await admin(adminPort, explainPath)).status).toBe(401);
      const explained = await admin(adminPort, explainPath, {
        headers: { Authorization: "Bearer s3cret-token-0123456789" },
      });
      expect(explained.status).toBe(200);
      expect(await explained.json()).toMatchObject({
        listener: "l",
        pool: "p",
        chosen: null,
        reason: expect.stringContaining("the connection is closed"),
      });
      expect(proc.stdout()).not.toContain("s3cret-token");
    } finally {
      await proc.stop();
    }
  });
});
