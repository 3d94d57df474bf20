import * as net from "node:net";

export interface HeldPort {
  readonly port: number;
  release(): Promise<void>;
}

/**
 * Holds a TCP port the way another process would (accepted connections are closed at once), until
 * `release`: what a test uses to make a listener fail to bind. Port 0 takes a free one.
 */
export async function holdPort(address = "127.0.0.1", port = 0): Promise<HeldPort> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
