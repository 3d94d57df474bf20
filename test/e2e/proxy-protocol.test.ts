import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2Header(ip: string, port: number): Buffer {
  const b = Buffer.alloc(28);
  V2_SIG.copy(b, 0);
  b[12] = 0x21;
  b[13] = 0x11;
  b.writeUInt16BE(12, 14);
  ip.split(".").forEach((octet, i) => {
    b[16 + i] = Number(octet);
  });
  b.set([127, 0, 0, 1], 20);
  b.writeUInt16BE(port, 24);
  b.writeUInt16BE(80, 26);
  return b;
}

/** Connects from 127.0.0.1, sends `header`, and resolves with the first line the backend writes. */
function nameBehindHeader(port: number, header: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(header));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        socket.destroy();
        resolve(text.slice(0, nl));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("closed without an answer")));
  });
}

describe("PROXY protocol on a TCP listener", () => {
  const backends: TcpBackend[] = [];
  let proc: StickylbProcess;
  let plainPort: number;
  let proxiedPort: number;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startTcpBackend(`b${i}`, `127.0.1.${i}`));
    plainPort = await freeTcpPort();
    proxiedPort = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: pp}
spec:
  listeners:
    - {name: plain, protocol: TCP, address: 127.0.0.1, port: ${plainPort}, defaultPool: p}
    - {name: proxied, protocol: TCP, address: 127.0.0.1, port: ${proxiedPort}, defaultPool: p, proxyProtocol: true}
  pools:
    - name: p
      algorithm: SOURCE_IP
      members:
${membersYaml(backends)}
`,
    );
    proc = await runStickylb([file]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("uses the address carried by v1 and v2 headers as the SOURCE_IP key", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const ip = `127.0.0.${100 + i}`;
      const direct = await whoAnswers(plainPort, ip);
      seen.add(direct);
      expect(
        await nameBehindHeader(proxiedPort, Buffer.from(`PROXY TCP4 ${ip} 127.0.0.1 40000 80\r\n`)),
      ).toBe(direct);
      expect(await nameBehindHeader(proxiedPort, v2Header(ip, 40001))).toBe(direct);
    }
    // The claimed addresses spread over the members although every connection came from 127.0.0.1.
    expect(seen.size).toBeGreaterThan(1);
  });

  it("refuses a malformed header: the connection is closed and no member sees it", async () => {
    const before = backends.reduce((n, b) => n + b.accepted(), 0);
    await expect(
      nameBehindHeader(proxiedPort, Buffer.from("PROXY TCP4 not-an-ip 127.0.0.1 1 2\r\n")),
    ).rejects.toThrow(/closed/);
    await expect(nameBehindHeader(proxiedPort, Buffer.from("GET / HTTP/1.1\r\n\r\n"))).rejects.toThrow(
      /closed/,
    );
    expect(backends.reduce((n, b) => n + b.accepted(), 0)).toBe(before);
    await proc.waitForLog((e) => e.msg === "PROXY header refused");
  });
});
