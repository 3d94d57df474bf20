import * as net from "node:net";

/** Sends raw bytes and resolves with everything received until the server closes the connection. */
export function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(bytes));
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      out += c;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(out));
  });
}
