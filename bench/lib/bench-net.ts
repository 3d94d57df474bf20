/**
 * Small network pieces for the campaign benches: members that close, answer their name or echo,
 * free ports, PROXY v1 clients, one GET, a bounded-parallel loop.
 */
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as net from "node:net";

/** A member that accepts and closes: the connections only exist to create bindings. */
export async function closingMember(address = "127.0.1.1"): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end();
  });
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A free TCP port on loopback (listen on 0, close, reuse the number). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The i-th of 2^24 distinct IPv4 source addresses in 10.0.0.0/8. */
export function sourceIp(i: number): string {
  return `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
}

/** One connection that announces `ip` in a PROXY v1 header, then ends; resolves when it closed. */
export function proxyV1Connection(port: number, ip: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.end(`PROXY TCP4 ${ip} 127.0.0.1 40000 80\r\n`);
    });
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.resume();
  });
}

export async function inParallel(
  n: number,
  width: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** An HTTP member answering its name; a request with `?v=VALUE` gets `Set-Cookie: SESSION=VALUE`. */
export async function httpMember(name: string, address: string): Promise<{ port: number; close(): void }> {
  const server = http.createServer((req, res) => {
    req.resume();
    const v = /[?&]v=([^&]+)/.exec(req.url ?? "")?.[1];
    if (v !== undefined) res.setHeader("set-cookie", `SESSION=${v}; Path=/`);
    res.end(name);
  });
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A UDP member that echoes every datagram. */
export async function udpEcho(address: string): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, from) => socket.send(msg, from.port, from.address));
  await new Promise<void>((r) => socket.bind({ address, port: 0 }, r));
  return { port: socket.address().port, close: () => socket.close() };
}

export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind({ address: "127.0.0.1", port: 0 }, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** One GET; the status, or 0 when the request failed. */
export function get(
  port: number,
  path = "/",
  headers: http.OutgoingHttpHeaders = {},
  agent: http.Agent | false = false,
) {
  return new Promise<number>((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.on("error", () => resolve(0));
  });
}

export function warnLines(logs: Record<string, unknown>[], table: string): number {
  return logs.filter((e) => e.table === table && String(e.msg).includes("limit reached")).length;
}
