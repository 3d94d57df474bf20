import * as dgram from "node:dgram";
import * as net from "node:net";

/**
 * A port that was free a moment ago on `address` (asked of the kernel with port 0). The stickylb
 * process under test needs its listener ports in its YAML file before it starts, so tests ask the
 * kernel for a free one rather than ever using a fixed port.
 */
export async function freeTcpPort(address = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function freeUdpPort(address = "127.0.0.1"): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address, port: 0 }, resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
