import * as dgram from "node:dgram";
import { isIPv6 } from "node:net";

/** A UDP backend on loopback that answers every datagram with its name. */
export interface UdpBackend {
  readonly name: string;
  readonly address: string;
  /** Fixed at the first bind, so that `restart` comes back on the same port. */
  readonly port: number;
  /** Datagrams received so far (all binds together). */
  received(): number;
  /** Distinct source ports seen (the load balancer's upstream sockets: one per flow). */
  sources(): number;
  /** Closes the socket: the kernel then answers with ICMP "port unreachable". */
  close(): Promise<void>;
  /** Binds again on the same address and port. */
  restart(): Promise<void>;
}

function bindSocket(
  address: string,
  port: number,
  onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
) {
  const socket = dgram.createSocket(isIPv6(address) ? "udp6" : "udp4");
  socket.on("message", (msg, rinfo) => onMessage(msg, rinfo));
  return new Promise<dgram.Socket>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address, port }, () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** Starts a UDP echo-of-name backend on `address`, port 0 unless given; `silent` backends never answer. */
export async function startUdpBackend(
  name: string,
  address = "127.0.0.1",
  port = 0,
  silent = false,
): Promise<UdpBackend> {
  let received = 0;
  const sources = new Set<string>();
  const reply = Buffer.from(name);
  let socket: dgram.Socket | undefined;
  const onMessage = (_msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    received++;
    sources.add(`${rinfo.address} ${rinfo.port}`);
    if (!silent) socket?.send(reply, rinfo.port, rinfo.address);
  };
  socket = await bindSocket(address, port, onMessage);
  const bound = socket.address().port;
  return {
    name,
    address,
    port: bound,
    received: () => received,
    sources: () => sources.size,
    close: () =>
      new Promise<void>((resolve) => {
        const s = socket;
        socket = undefined;
        if (s === undefined) resolve();
        else s.close(() => resolve());
      }),
    restart: async () => {
      if (socket === undefined) socket = await bindSocket(address, bound, onMessage);
    },
  };
}

/** A client socket bound to a chosen source address (and port, 0 for any). */
export interface UdpClient {
  readonly socket: dgram.Socket;
  readonly address: string;
  readonly port: number;
  /** Sends `payload` to `host:port` and resolves with the text of the next datagram received. */
  ask(port: number, host?: string, payload?: string, timeoutMs?: number): Promise<string>;
  /** Sends `payload` and resolves with the reply and where it came from. */
  askFrom(
    port: number,
    host?: string,
    payload?: string,
    timeoutMs?: number,
  ): Promise<{ text: string; from: dgram.RemoteInfo }>;
  close(): Promise<void>;
}

export async function udpClient(localAddress = "127.0.0.1", localPort = 0): Promise<UdpClient> {
  const socket = dgram.createSocket(isIPv6(localAddress) ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: localAddress, port: localPort }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.on("error", () => {});
  const askFrom = (port: number, host = "127.0.0.1", payload = "hello", timeoutMs = 3000) =>
    new Promise<{ text: string; from: dgram.RemoteInfo }>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.off("message", onMessage);
        reject(
          new Error(
            `no UDP reply from ${host}:${port} to ${localAddress}:${socket.address().port} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onMessage = (msg: Buffer, from: dgram.RemoteInfo): void => {
        clearTimeout(timer);
        socket.off("message", onMessage);
        resolve({ text: msg.toString(), from });
      };
      socket.on("message", onMessage);
      socket.send(payload, port, host);
    });
  return {
    socket,
    address: localAddress,
    port: socket.address().port,
    askFrom,
    ask: async (port, host, payload, timeoutMs) => (await askFrom(port, host, payload, timeoutMs)).text,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
