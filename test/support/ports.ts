import * as dgram from "node:dgram";
import * as net from "node:net";

/**
 * Ports this test process has already handed out. The kernel may give a port that was just
 * released to the next port-0 bind, so two calls in a row could return the same port and a test's
 * two listeners would clash; a port is never handed out twice by one test process.
 */
const handedOut = new Set<number>();

/** Asks the kernel for free ports until one is new to this process. */
async function newPort(ask: () => Promise<number>): Promise<number> {
  for (;;) {
    const port = await ask();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * A port that was free a moment ago on `address` (asked of the kernel with port 0). The stickylb
 * process under test needs its listener ports in its YAML file before it starts, so tests ask the
 * kernel for a free one rather than ever using a fixed port.
 */
export function freeTcpPort(address = "127.0.0.1"): Promise<number> {
  return newPort(async () => {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address, port: 0 }, resolve);
    });
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  });
}

export function freeUdpPort(address = "127.0.0.1"): Promise<number> {
  return newPort(async () => {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address, port: 0 }, resolve);
    });
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  });
}
