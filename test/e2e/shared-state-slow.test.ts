/**
 * A store that answers slowly (a real redis-server blocked by DEBUG SLEEP): a local miss waits at
 * most the 50 ms budget and is then placed locally; clients that go away while their placement
 * waits leave nothing behind (no connection, no held binding, no internal error).
 */
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";

describe("state store that answers slowly", () => {
  let redis: RedisServer;
  let proc: StickylbProcess;
  let web: HttpBackend;
  let tcp: TcpBackend;
  let httpPort = 0;
  let tcpPort = 0;
  let admin = 0;

  beforeAll(async () => {
    redis = await startRedis(["--enable-debug-command", "local"]);
    web = await startHttpBackend("w1", "127.0.1.1", "jsessionid");
    tcp = await startTcpBackend("t1", "127.0.1.1");
    httpPort = await freeTcpPort();
    tcpPort = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: slow}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${httpPort}, defaultPool: web}
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcpPort}, defaultPool: tcp}
  pools:
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
      members:
${membersYaml([web])}
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 1m}
      members:
${membersYaml([tcp])}
`,
    );
    proc = await runStickylb([file], ["--state-store", redis.url]);
    await proc.waitForLog((e) => e.msg === "state store up", 10_000);
    admin = await proc.adminPort();
  }, 30_000);

  afterAll(async () => {
    await proc?.stop();
    await web?.close();
    await tcp?.close();
    await redis?.stop();
  });

  it("local misses are placed after the budget; clients that leave meanwhile leave nothing behind", async () => {
    const blocked = redis.cli("DEBUG", "SLEEP", "1.5");
    await sleep(100);
    // New clients while the store sleeps: served, each after at most about the 50 ms budget.
    for (let i = 0; i < 3; i++) {
      const a = await httpGet(httpPort, "/", { Cookie: `JSESSIONID=slow-${i}` });
      expect(a.status).toBe(200);
    }
    expect(await whoAnswers(tcpPort, "127.0.0.40")).toBe("t1");
    // Clients that go away while their placement waits for the store.
    for (let c = 41; c < 46; c++) {
      const s = net.connect({ host: "127.0.0.1", port: tcpPort, localAddress: `127.0.0.${c}` });
      s.on("error", () => {});
      s.on("connect", () => s.destroy());
    }
    const raw = net.connect({ host: "127.0.0.1", port: httpPort, localAddress: "127.0.0.47" });
    raw.on("error", () => {});
    raw.on("connect", () => {
      raw.write("GET / HTTP/1.1\r\nHost: x\r\nCookie: JSESSIONID=gone-away\r\n\r\n");
      raw.destroy();
    });
    await blocked;
    await sleep(300);
    const status = JSON.parse((await httpGet(admin, "/api/v1/status")).body);
    for (const l of status.listeners) expect(l.open, l.name).toBe(0);
    for (const c of [41, 42, 43, 44, 45]) {
      const b = await httpGet(admin, `/api/v1/pools/tcp/bindings?key=127.0.0.${c}`);
      if (b.status === 200) expect(JSON.parse(b.body).openConnections).toBe(0);
    }
    const metrics = (await httpGet(admin, "/metrics")).body;
    expect(metrics).toMatch(/^stickylb_state_store_operations_total\{op="claim",result="timeout"\} [1-9]/m);
    for (const line of metrics.split("\n").filter((l) => l.startsWith("stickylb_internal_errors_total{")))
      expect(line).toMatch(/ 0$/);
    // And the process still serves, with the store answering again.
    expect((await httpGet(httpPort, "/", { Cookie: "JSESSIONID=after" })).status).toBe(200);
  }, 30_000);
});
