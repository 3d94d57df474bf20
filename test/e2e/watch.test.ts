import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { onePoolConfig } from "../support/config-yaml.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

function config(port: number, member: TcpBackend): string {
  return onePoolConfig({ name: "watched", protocol: "TCP", port, listenerName: "tcp", members: [member] });
}

describe("--watch", () => {
  const backends: TcpBackend[] = [];
  let proc: StickylbProcess;

  beforeAll(async () => {
    backends.push(await startTcpBackend("w1", "127.0.1.1"), await startTcpBackend("w2", "127.0.1.2"));
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("reloads when the file changes, and refuses an invalid edit while the old configuration serves", async () => {
    const port = await freeTcpPort();
    const dir = tempDir();
    const file = writeConfig(dir, "lb.yaml", config(port, backends[0]!));
    proc = await runStickylb([file], ["--watch"]);
    expect(await whoAnswers(port, "127.0.0.2")).toBe("w1");

    writeConfig(dir, "lb.yaml", config(port, backends[1]!));
    await proc.waitForLog((e) => e.msg === "configuration reloaded", 10_000);
    expect(await whoAnswers(port, "127.0.0.2")).toBe("w2");

    writeConfig(
      dir,
      "lb.yaml",
      "apiVersion: stickylb/v1\nkind: LoadBalancer\nmetadata: {name: watched}\nspec: {listeners: 7}\n",
    );
    await proc.waitForLog(
      (e) => e.msg === "configuration reload refused; the running configuration stays",
      10_000,
    );
    expect(await whoAnswers(port, "127.0.0.2")).toBe("w2");
  });
});
