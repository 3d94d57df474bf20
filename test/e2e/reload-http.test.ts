import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onePoolConfig } from "../support/config-yaml.js";
import { type HttpBackend, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";

function config(port: number, members: HttpBackend[]): string {
  return onePoolConfig({
    name: "reload-http",
    protocol: "HTTP",
    port,
    listenerName: "web",
    pool: "      algorithm: ROUND_ROBIN",
    members,
  });
}

/** One GET on a kept-alive agent; resolves with the status, or 0 when the request failed. */
function get(agent: http.Agent, port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.on("error", () => resolve(0));
  });
}

describe("reload (SIGHUP) under HTTP keep-alive traffic", () => {
  const backends: HttpBackend[] = [];
  let proc: StickylbProcess;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startHttpBackend(`h${i}`, `127.0.1.${i}`));
    port = await freeTcpPort();
    dir = tempDir();
    const file = writeConfig(dir, "lb.yaml", config(port, backends.slice(0, 2)));
    proc = await runStickylb([file], ["--drain-timeout", "5s", "--log-level", "info"]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("50 reloads that add and remove a member cause no failed request", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = new Map<number, number>();
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        const status = await get(agent, port);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let r = 0; r < 50; r++) {
      writeConfig(dir, "lb.yaml", config(port, r % 2 === 0 ? backends : backends.slice(0, 2)));
      const before = proc.stdout().split("configuration reloaded").length;
      proc.child.kill("SIGHUP");
      while (proc.stdout().split("configuration reloaded").length === before) await sleep(5);
      await sleep(20);
    }
    running = false;
    await Promise.all(workers);
    agent.destroy();
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(200);
    expect(Object.fromEntries(statuses)).toEqual({ 200: total });
    // The toggled member did take traffic while it was configured.
    expect(backends[2]!.requests()).toBeGreaterThan(0);
  });
});
