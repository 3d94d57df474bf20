import type * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndReadName, startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { onePoolConfig } from "../support/config-yaml.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";

function config(port: number, members: TcpBackend[], extra = ""): string {
  return onePoolConfig({
    name: "reload",
    protocol: "TCP",
    port,
    listenerName: "tcp",
    pool: `      algorithm: ROUND_ROBIN\n${extra}`,
    members,
  });
}

/** Sends a line and waits for its echo; rejects if the connection breaks. */
function echo(socket: net.Socket, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (chunk: Buffer): void => {
      got += chunk.toString();
      if (got.includes(text)) {
        cleanup();
        resolve();
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error("connection closed"));
    };
    const cleanup = (): void => {
      socket.off("data", onData);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.write(text);
  });
}

describe("reload (SIGHUP) and drain on TCP", () => {
  const backends: TcpBackend[] = [];
  let proc: StickylbProcess;
  let port: number;
  let file: string;
  let reloads = 0;

  async function reload(content: string, expectMsg = "configuration reloaded"): Promise<void> {
    writeConfig(file.slice(0, file.lastIndexOf("/")), "lb.yaml", content);
    const before = proc.stdout().split(expectMsg).length;
    proc.child.kill("SIGHUP");
    const deadline = Date.now() + 10_000;
    while (proc.stdout().split(expectMsg).length === before) {
      if (Date.now() > deadline) throw new Error(`no "${expectMsg}" after SIGHUP`);
      await sleep(10);
    }
    reloads++;
  }

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startTcpBackend(`b${i}`, `127.0.1.${i}`));
    port = await freeTcpPort();
    file = writeConfig(tempDir(), "lb.yaml", config(port, backends.slice(0, 2)));
    proc = await runStickylb([file], ["--drain-timeout", "3s"]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("50 reloads adding and removing a member leave connections to members that stay untouched", async () => {
    const open: { socket: net.Socket; name: string }[] = [];
    for (let i = 0; i < 10; i++) open.push(await connectAndReadName(port, `127.0.0.${2 + i}`));
    const broken: string[] = [];
    for (const o of open) o.socket.once("close", () => broken.push(o.name));
    let failures = 0;
    for (let r = 0; r < 50; r++) {
      await reload(config(port, r % 2 === 0 ? backends : backends.slice(0, 2)));
      // Traffic on every open connection and a new connection after each reload.
      await Promise.all(open.map((o, i) => echo(o.socket, `ping-${r}-${i};`)));
      try {
        await whoAnswers(port, "127.0.0.50");
      } catch {
        failures++;
      }
    }
    expect(reloads).toBeGreaterThanOrEqual(50);
    expect(broken).toEqual([]);
    expect(failures).toBe(0);
    for (const o of open) o.socket.destroy();
  });

  it("a removed member's open connection works until the drain timeout, then is closed", async () => {
    await reload(config(port, backends));
    // Round robin over three: find a connection that landed on b3.
    let onB3: net.Socket | undefined;
    const others: net.Socket[] = [];
    for (let i = 0; i < 6 && onB3 === undefined; i++) {
      const c = await connectAndReadName(port, "127.0.0.60");
      if (c.name === "b3") onB3 = c.socket;
      else others.push(c.socket);
    }
    expect(onB3).toBeDefined();
    const closedAt = new Promise<number>((resolve) => onB3!.once("close", () => resolve(Date.now())));
    await reload(config(port, backends.slice(0, 2)));
    const removedAt = Date.now();
    await echo(onB3!, "still-there;");
    await sleep(1000);
    await echo(onB3!, "still-there-after-1s;");
    // No new connection reaches the removed member.
    for (let i = 0; i < 6; i++) expect(await whoAnswers(port, "127.0.0.61")).not.toBe("b3");
    const closed = await closedAt;
    // Drain timeout 3 s; the sweep runs each second: closed between ~3 s and a generous bound.
    expect(closed - removedAt).toBeGreaterThanOrEqual(2500);
    for (const s of others) s.destroy();
  });

  it("an invalid file on reload is refused whole and traffic continues", async () => {
    const held = await connectAndReadName(port, "127.0.0.70");
    await reload(
      config(port, backends.slice(0, 2)).replace("ROUND_ROBIN", "ROUND_ROBINN"),
      "configuration reload refused",
    );
    await echo(held.socket, "after-bad-reload;");
    expect(["b1", "b2"]).toContain(await whoAnswers(port, "127.0.0.71"));
    held.socket.destroy();
  });
});
