import * as net from "node:net";

/** A TCP backend on loopback that answers every connection with its name, then echoes. */
export interface TcpBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Currently open connections. */
  open(): number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Starts a TCP backend that writes `NAME\n` on connect and echoes what it receives. Binds to
 * `address` (a 127.0.1.x address by convention) on port 0 unless a port is given.
 */
export async function startTcpBackend(name: string, address: string, port = 0): Promise<TcpBackend> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, resolve);
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    name,
    address,
    port: bound,
    open: () => sockets.size,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP connection from a chosen source address; resolves with the socket and the first line (the backend's name). */
export async function connectAndReadName(
  port: number,
  localAddress: string,
  host = "127.0.0.1",
  timeoutMs = 5000,
): Promise<{ socket: net.Socket; name: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress });
    let buffered = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    const onData = (chunk: string): void => {
      buffered += chunk;
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        socket.off("data", onData);
        resolve({ socket, name: buffered.slice(0, nl) });
      }
    };
    socket.on("data", onData);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      reject(new Error(`connection to ${host}:${port} closed before a name arrived`));
    });
  });
}

/** Connects, reads the backend's name, closes; the usual probe of "where does this client land". */
export async function whoAnswers(port: number, localAddress: string, host = "127.0.0.1"): Promise<string> {
  const { socket, name } = await connectAndReadName(port, localAddress, host);
  socket.destroy();
  return name;
}
