import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { startTcpBackend } from "../support/backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, STICKYLB_MAIN, tempDir, writeConfig } from "../support/stickylb-process.js";

function stickylb(args: string[]) {
  return spawnSync(process.execPath, [STICKYLB_MAIN, ...args], { encoding: "utf8", timeout: 20_000 });
}

const INVALID = `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: shop}
spec:
  listeners:
    - {name: tcp, protocol: TCP, port: 8080, defaultPool: web}
  pools:
    - name: web
      members:
        - {address: 127.0.1.1, port: 9000}
        - {address: 127.0.1.2, port: 9000, weight: 101}
`;

describe("the stickylb command", () => {
  it("--help and --version exit 0", () => {
    const help = stickylb(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("stickylb run -f PATH");
    const version = stickylb(["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^stickylb \d+\.\d+\.\d+/);
  });

  it("an unknown command or flag exits 2 and says what is accepted", () => {
    const r = stickylb(["frobnicate"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("accepted: run, validate, demo");
  });

  it("validate and run exit 2 on an invalid file and name file, line, column, object and field", () => {
    const file = writeConfig(tempDir(), "lb.yaml", INVALID);
    const expected = `${file}:11:44: LoadBalancer/shop: spec.pools[0].members[1].weight: 101 is out of range (an integer 0–100)`;
    const validate = stickylb(["validate", "-f", file]);
    expect(validate.status).toBe(2);
    expect(validate.stderr).toContain(expected);
    const run = stickylb(["run", "-f", file, "--admin", "off"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(expected);
  });

  it("validate exits 0 on a valid file", () => {
    const file = writeConfig(tempDir(), "lb.yaml", INVALID.replace("weight: 101", "weight: 100"));
    const r = stickylb(["validate", "-f", file]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("serves /healthz and /readyz, and exits 0 within a second of SIGTERM when nothing is open", async () => {
    const backend = await startTcpBackend("b1", "127.0.1.1");
    const port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      INVALID.replace("weight: 101", "weight: 1").replace("port: 8080", `address: 127.0.0.1, port: ${port}`),
    );
    const proc = await runStickylb([file]);
    const admin = await proc.adminPort();
    expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(200);
    const t0 = Date.now();
    expect(await proc.stop("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await backend.close();
  });
});
