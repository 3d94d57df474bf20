/**
 * `run -f` with `--metrics-address` (the read-only listener for Prometheus and probes) and
 * `--cookie-secret-file` (the cookie key from a file), on the real process.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, STICKYLB_MAIN, tempDir, writeConfig } from "../support/stickylb-process.js";

const config = (port: number) => `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: shop}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: web}
  pools:
    - name: web
      sessionPersistence: {type: HTTP_COOKIE}
      members:
        - {address: 127.0.1.51, port: 9}
`;

describe("--metrics-address and --cookie-secret-file with run -f", () => {
  it("serves /metrics, /healthz and /readyz without a token, and nothing else", async () => {
    const dir = tempDir();
    const file = writeConfig(dir, "lb.yaml", config(await freeTcpPort()));
    const secret = join(dir, "secret");
    writeFileSync(secret, "0123456789abcdef0123456789abcdef\n");
    const proc = await runStickylb(
      [file],
      ["--metrics-address", "127.0.0.1:0", "--cookie-secret-file", secret],
    );
    try {
      const port = (await proc.waitForLog((e) => e.msg === "metrics listener bound")).port as number;
      const base = `http://127.0.0.1:${port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^stickylb_build_info\{/m);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      for (const path of [
        "/api/v1/status",
        "/api/v1/pools/web/bindings?key=x",
        "/api/v1/explain?listener=web&client=127.0.0.1",
        "/",
      ])
        expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    } finally {
      await proc.stop();
    }
  });

  it("a cookie secret file that is too short stops the start with exit 2 and says why", async () => {
    const dir = tempDir();
    const file = writeConfig(dir, "lb.yaml", config(await freeTcpPort()));
    const secret = join(dir, "secret");
    writeFileSync(secret, "short\n");
    const run = spawnSync(
      process.execPath,
      [STICKYLB_MAIN, "run", "-f", file, "--cookie-secret-file", secret, "--admin", "off"],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `SLB_ERR_COOKIE_SECRET: --cookie-secret-file ${secret} holds 5 bytes; at least 32 are needed (e.g. openssl rand -hex 32)\n`,
    );
  });
});
