import { execFile } from "node:child_process";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StickylbProcess, startStickylb, tempDir } from "../support/stickylb-process.js";

const exec = promisify(execFile);
const NAMES = /hello from (alpha|bravo|charlie)\b/;

/** What `nc HOST PORT` shows first: the TCP backend's greeting. */
function ncTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setEncoding("utf8");
    let text = "";
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\n")) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.once("error", reject);
    setTimeout(() => reject(new Error(`no greeting from ${host}:${port}`)), 5000).unref();
  });
}

/** `nc -u HOST PORT` and typing a line: one datagram out, the reply back. */
function ncUdp(host: string, port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.once("message", (msg) => {
      socket.close();
      resolve(msg.toString());
    });
    socket.send(`${line}\n`, port, host);
    setTimeout(() => reject(new Error(`no UDP reply from ${host}:${port}`)), 5000).unref();
  });
}

describe("stickylb demo", () => {
  let demo: StickylbProcess;
  let printed = "";

  beforeAll(async () => {
    demo = startStickylb(["demo"]);
    await demo.waitForLog((e) => e.msg === "stickylb started", 15_000);
    printed = demo.stdout();
  });
  afterAll(async () => {
    if (demo.child.exitCode === null) await demo.stop();
  });

  it("prints an address and a command for every kind of listener, and the dashboard", () => {
    expect(printed).toContain("stickylb demo is running.");
    expect(printed.match(/try: curl -c \S+ -b \S+ http:\/\/127\.0\.0\.1:\d+\//g)).toHaveLength(2);
    expect(printed.match(/try: nc 127\.0\.0\.1 \d+/g)).toHaveLength(2);
    expect(printed.match(/try: nc -u 127\.0\.0\.1 \d+/g)).toHaveLength(1);
    expect(printed).toMatch(/HTTP_COOKIE/);
    expect(printed).toMatch(/APP_COOKIE/);
    expect(printed).toMatch(/SOURCE_IP algorithm/);
    expect(printed).toMatch(/SOURCE_IP persistence/);
    expect(printed).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\//);
  });

  it("runs each printed curl command (cookie jar) and stays on one backend", async () => {
    const dir = tempDir("stickylb-demo-jar-");
    const commands = [...printed.matchAll(/try: (curl -c (\S+) -b \S+ (\S+))/g)];
    expect(commands).toHaveLength(2);
    for (const [, , jar, url] of commands) {
      // The printed command with its jar moved into a fresh folder, so earlier runs do not interfere.
      const ownJar = join(dir, jar!.replaceAll("/", "_"));
      const run = async () => (await exec("curl", ["-s", "-c", ownJar, "-b", ownJar, url!])).stdout;
      const first = await run();
      expect(first).toMatch(NAMES);
      const name = NAMES.exec(first)![1];
      for (let i = 0; i < 4; i++) expect(NAMES.exec(await run())![1]).toBe(name);
    }
  });

  it("runs each printed nc command and reaches a backend", async () => {
    const tcp = [...printed.matchAll(/try: nc (127\.0\.0\.1) (\d+)/g)];
    expect(tcp).toHaveLength(2);
    for (const [, host, port] of tcp) {
      const first = await ncTcp(host!, Number(port));
      expect(first).toMatch(/hello from (alpha|bravo|charlie) \(TCP backend\)/);
      // Both TCP listeners are sticky by source IP: the same client keeps its backend.
      expect(NAMES.exec(await ncTcp(host!, Number(port)))![1]).toBe(NAMES.exec(first)![1]);
    }
    const [, host, port] = printed.match(/try: nc -u (127\.0\.0\.1) (\d+)/)!;
    const reply = await ncUdp(host!, Number(port), "hi");
    expect(reply).toMatch(/hello from (alpha|bravo|charlie) \(UDP backend\): you said "hi"/);
  });

  it("stops everything cleanly on Ctrl-C", async () => {
    const started = Date.now();
    expect(await demo.stop("SIGINT")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(demo.stdout()).toContain('"msg":"stopped"');
  });
});
