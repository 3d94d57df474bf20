/**
 * The demo's backends: each one serves HTTP, HTTP with an application session (it sets
 * `JSESSIONID`, for APP_COOKIE), TCP and UDP on loopback ports chosen by the kernel, and every
 * answer names the backend, so stickiness is visible from any client.
 */
import { randomBytes } from "node:crypto";
import * as dgram from "node:dgram";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as net from "node:net";

export const DEMO_BACKEND_NAMES = ["alpha", "bravo", "charlie"] as const;

export interface DemoBackend {
  readonly name: string;
  readonly address: string;
  readonly httpPort: number;
  /** HTTP that sets and keeps a `JSESSIONID` session cookie. */
  readonly sessionPort: number;
  readonly tcpPort: number;
  readonly udpPort: number;
  close(): Promise<void>;
}

const SESSION_COOKIE = "JSESSIONID";

function listenTcp(server: net.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port: 0 }, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sessionOf(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function text(res: http.ServerResponse, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(200, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(body);
}

/** Starts one demo backend on `address` (loopback), every protocol on a kernel-chosen port. */
export async function startDemoBackend(name: string, address = "127.0.0.1"): Promise<DemoBackend> {
  let requests = 0;
  const web = http.createServer((req, res) => {
    if (req.url === "/healthz") return text(res, "ok\n");
    requests++;
    text(res, `hello from ${name} (HTTP backend, request #${requests} here)\n`);
  });
  const sessions = new Map<string, number>();
  const session = http.createServer((req, res) => {
    if (req.url === "/healthz") return text(res, "ok\n");
    const known = sessionOf(req.headers.cookie);
    const count = known === undefined ? undefined : sessions.get(known);
    if (known !== undefined && count !== undefined) {
      sessions.set(known, count + 1);
      return text(res, `hello from ${name} (session continues, request #${count + 1} of this session)\n`);
    }
    const id = randomBytes(12).toString("hex");
    // Bounded, as any real application's session store is.
    if (sessions.size >= 10_000) sessions.delete(sessions.keys().next().value!);
    sessions.set(id, 1);
    text(res, `hello from ${name} (new session started)\n`, {
      "set-cookie": `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`,
    });
  });
  const tcp = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.write(`hello from ${name} (TCP backend); type a line and it comes back\n`);
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        socket.write(`${name}: ${buffered.slice(0, nl).replace(/\r$/, "")}\n`);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
      }
      if (buffered.length > 4096) buffered = "";
    });
  });
  const udp = dgram.createSocket(net.isIPv6(address) ? "udp6" : "udp4");
  udp.on("message", (msg, rinfo) => {
    const said = msg.toString("utf8", 0, Math.min(msg.length, 200)).trim();
    udp.send(
      `hello from ${name} (UDP backend)${said === "" ? "" : `: you said "${said}"`}\n`,
      rinfo.port,
      rinfo.address,
    );
  });
  udp.on("error", () => {});
  const udpPort = await new Promise<number>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind({ address, port: 0 }, () => {
      udp.off("error", reject);
      resolve(udp.address().port);
    });
  });
  const httpPort = await listenTcp(web, address);
  const sessionPort = await listenTcp(session, address);
  const tcpPort = await listenTcp(tcp, address);
  const closeServer = (s: net.Server): Promise<void> =>
    new Promise((resolve) => {
      s.close(() => resolve());
      if (s instanceof http.Server) s.closeAllConnections();
    });
  const tcpSockets = new Set<net.Socket>();
  tcp.on("connection", (s) => {
    tcpSockets.add(s);
    s.once("close", () => tcpSockets.delete(s));
  });
  return {
    name,
    address,
    httpPort,
    sessionPort,
    tcpPort,
    udpPort,
    close: async () => {
      for (const s of tcpSockets) s.destroy();
      await Promise.all([closeServer(web), closeServer(session), closeServer(tcp)]);
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}
