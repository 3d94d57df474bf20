/**
 * The published package works on its own: `npm pack` of this repository, installed into an empty
 * folder (dependencies from the npm cache, else the registry), runs `npx stickylb --version` and
 * `npx stickylb demo`, whose printed HTTP listener answers through stickylb. The build is the one
 * `npm test` made just before (the `prepack` script builds when packing by hand).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet } from "../support/http-backends.js";
import { tempDir } from "../support/stickylb-process.js";

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  files: string[];
};

describe("npm pack, install and run", () => {
  const app = tempDir("stickylb-install-");
  let tarball = "";
  let demo: ChildProcess | undefined;

  beforeAll(async () => {
    const packed = await exec("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", app], {
      cwd: ROOT,
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(app, info!.filename);
    const paths = info!.files.map((f) => f.path);
    // What the package ships: the compiled program, the docs and examples, nothing of the tests.
    expect(paths).toContain("dist/src/main.js");
    expect(paths).toContain("docs/reference/cli.md");
    expect(paths).toContain("examples/http-cookie.yaml");
    expect(paths.filter((p) => p.startsWith("test/") || p.startsWith("src/"))).toEqual([]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "try-stickylb", private: true }));
    await exec(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball],
      { cwd: app },
    );
  }, 240_000);

  afterAll(() => {
    if (demo?.pid === undefined) return;
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  });

  it("npx stickylb --version prints the package's version", async () => {
    const { stdout } = await exec("npx", ["--no-install", "stickylb", "--version"], { cwd: app });
    expect(stdout).toBe(`stickylb ${PKG.version}\n`);
  });

  it("npx stickylb demo prints its banner, serves HTTP through stickylb, and stops on SIGTERM", async () => {
    // A process group of its own: npx runs stickylb under a shell and does not pass SIGTERM on,
    // so the signal goes to the group, as Ctrl-C in a terminal or a container runtime sends it.
    const child = spawn("npx", ["--no-install", "stickylb", "demo", "--admin", "127.0.0.1:0"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    demo = child;
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (c: string) => {
      out += c;
    });
    child.stderr.resume();
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const deadline = Date.now() + 30_000;
    while (!/try: curl -c \S+ -b \S+ http:\/\/127\.0\.0\.1:(\d+)\//.test(out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toContain("stickylb demo is running.");
    const port = Number(/try: curl -c \S+ -b \S+ http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
    const answer = await httpGet(port);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/alpha|bravo|charlie/);
    expect(answer.setCookies.some((c) => c.startsWith("STICKYLB="))).toBe(true);
    process.kill(-child.pid!, "SIGTERM");
    await exited;
    // stickylb itself stopped cleanly (its exit code is checked without npx in demo.test.ts).
    await new Promise((r) => setTimeout(r, 200));
    expect(out).toMatch(/"msg":"stopped"/);
  }, 60_000);
});
