import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STICKYLB_MAIN, tempDir, writeConfig } from "../support/stickylb-process.js";

/** Runs the real command; `run` is given a free admin port and its own state folder. */
function stickylb(args: string[], env: NodeJS.ProcessEnv = {}) {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return spawnSync(process.execPath, [STICKYLB_MAIN, ...args], {
    encoding: "utf8",
    timeout: 20_000,
    env: childEnv,
  });
}

const cookiePool = (extra: string) => `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: agree}
spec:
${extra}
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: 1, defaultPool: web}
  pools:
    - name: web
      sessionPersistence: {type: HTTP_COOKIE}
      members: [{address: 127.0.1.80, port: 9000}]
`;

interface Case {
  readonly name: string;
  /** The -f paths. */
  files(): string[];
  readonly flags?: string[];
  readonly env?: NodeJS.ProcessEnv;
  /** What both commands must print on standard error. */
  readonly expected: string;
}

const CASES: Case[] = [
  {
    name: "cookieSecret.env names an unset variable",
    files: () => [
      writeConfig(tempDir(), "lb.yaml", cookiePool("  cookieSecret: {env: STICKYLB_TEST_UNSET_SECRET}")),
    ],
    env: { STICKYLB_TEST_UNSET_SECRET: undefined },
    expected:
      "SLB_ERR_COOKIE_SECRET: cookieSecret.env: the environment variable STICKYLB_TEST_UNSET_SECRET is not set",
  },
  {
    name: "cookieSecret.value is too short",
    files: () => [writeConfig(tempDir(), "lb.yaml", cookiePool('  cookieSecret: {value: "short"}'))],
    expected: "spec.cookieSecret.value: a secret of 5 bytes is too short (at least 32 bytes)",
  },
  {
    name: "an empty folder",
    files: () => {
      const dir = join(tempDir(), "conf.d");
      mkdirSync(dir);
      writeFileSync(join(dir, "README.md"), "not configuration\n");
      return [dir];
    },
    expected: "conf.d:1:1: the folder has no .yaml or .yml file",
  },
  {
    name: "a file with comments only",
    files: () => [writeConfig(tempDir(), "lb.yaml", "# nothing yet\n")],
    expected: "lb.yaml:1:1: no configuration: the file holds a YAML document",
  },
  {
    name: "an admin listener off loopback without a token",
    files: () => [writeConfig(tempDir(), "lb.yaml", cookiePool("  admin: {address: 0.0.0.0, port: 1}"))],
    expected: "SLB_ERR_ADMIN_TOKEN: the admin listener on 0.0.0.0 is reachable from other machines",
  },
];

describe("validate refuses exactly what run refuses at start", () => {
  it.each(CASES)("$name", (c) => {
    const files = c.files().flatMap((f) => ["-f", f]);
    const stateDir = tempDir("stickylb-state-");
    const flags = [...(c.flags ?? []), "--state-dir", stateDir];
    const validate = stickylb(["validate", ...files, ...flags], c.env);
    const run = stickylb(["run", ...files, ...flags], c.env);
    expect(validate.status, validate.stderr).toBe(2);
    expect(run.status, run.stderr).toBe(2);
    expect(validate.stderr).toContain(c.expected);
    expect(run.stderr).toContain(c.expected);
  });

  it("both accept the same file once the problem is fixed", () => {
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      cookiePool("  cookieSecret: {env: STICKYLB_TEST_SET_SECRET}"),
    );
    const validate = stickylb(["validate", "-f", file, "--state-dir", tempDir("stickylb-state-")], {
      STICKYLB_TEST_SET_SECRET: "x".repeat(32),
    });
    expect(validate.status, validate.stderr).toBe(0);
  });
});
