import * as dgram from "node:dgram";
import * as net from "node:net";

/**
 * A port the kernel just handed out on `address` (TCP or UDP), released again. Listeners are keyed
 * by protocol, address and port, so each demo listener needs a distinct real port rather than 0.
 */
export async function freePort(protocol: "tcp" | "udp", address: string): Promise<number> {
  if (protocol === "udp") {
    const socket = dgram.createSocket(net.isIPv6(address) ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address, port: 0 }, () => resolve());
    });
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port: 0 }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
