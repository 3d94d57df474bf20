/**
 * `rediss://`: stickylb replicas sharing a real redis-server that speaks only TLS, with a
 * certificate authority made by the test (openssl). The CA reaches the process the Node way,
 * through `NODE_EXTRA_CA_CERTS` (docs/shared-state.md, "TLS"); without it the certificate is
 * refused, the store stays down and the process serves from its local tables.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { httpGet } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { type RedisTlsServer, startRedisTls } from "../support/redis.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { LOADED_MACHINE } from "../support/store-replica.js";
import { sleep } from "../support/time.js";

describe("state store over TLS (rediss://)", () => {
  let redis: RedisTlsServer;
  const tcp3: TcpBackend[] = [];
  const procs: StickylbProcess[] = [];

  const start = async (
    env: NodeJS.ProcessEnv,
  ): Promise<{ proc: StickylbProcess; tcp: number; admin: number }> => {
    const tcp = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: tls}
spec:
  listeners:
    - {name: tcp, protocol: TCP, address: 127.0.0.1, port: ${tcp}, defaultPool: tcp}
  pools:
    - name: tcp
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 5m}
      members:
${membersYaml(tcp3)}
`,
    );
    const proc = await runStickylb([file], ["--state-store", redis.url], { ...LOADED_MACHINE, ...env });
    procs.push(proc);
    return { proc, tcp, admin: await proc.adminPort() };
  };

  beforeAll(async () => {
    redis = await startRedisTls();
    for (let i = 1; i <= 3; i++) tcp3.push(await startTcpBackend(`t${i}`, `127.0.1.${i}`));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(tcp3.map((b) => b.close()));
    await redis?.stop();
  });

  it("two replicas given the CA share their bindings over TLS", async () => {
    const [a, b] = [
      await start({ NODE_EXTRA_CA_CERTS: redis.caFile }),
      await start({ NODE_EXTRA_CA_CERTS: redis.caFile }),
    ];
    await a.proc.waitForLog((e) => e.msg === "state store up", 10_000);
    await b.proc.waitForLog((e) => e.msg === "state store up", 10_000);
    for (let c = 0; c < 12; c++) {
      const ip = `127.0.0.${70 + c}`;
      const first = await whoAnswers((c % 2 === 0 ? a : b).tcp, ip);
      for (let k = 1; k <= 3; k++) {
        const at = await whoAnswers(((c + k) % 2 === 0 ? a : b).tcp, ip);
        expect({ ip, k, at }).toEqual({ ip, k, at: first });
      }
    }
    expect((await httpGet(a.admin, "/metrics")).body).toMatch(/^stickylb_state_store_up 1$/m);
  }, 60_000);

  it("without the CA the certificate is refused: the store stays down, the process serves locally", async () => {
    const c = await start({ NODE_EXTRA_CA_CERTS: "" });
    const down = await c.proc.waitForLog((e) => String(e.msg).startsWith("state store down"), 10_000);
    expect(String(down.reason)).toMatch(/certificate|self.signed|issuer/i);
    await sleep(300);
    expect(c.proc.stdout()).not.toContain('"msg":"state store up"');
    expect((await httpGet(c.admin, "/readyz")).status).toBe(200);
    expect(["t1", "t2", "t3"]).toContain(await whoAnswers(c.tcp, "127.0.0.90"));
  }, 30_000);
});
