/**
 * A lean keep-alive HTTP/1.1 client for latency measurements: one socket, one request at a time,
 * requests written as one string, and a response read only as far as its head and
 * `Content-Length` body. It allocates little per request, so its own garbage collection hardly
 * shows in the latencies it measures (node:http's client adds several objects per request).
 */
import * as net from "node:net";

export class RawHttpClient {
  private socket: net.Socket | undefined;
  private buffered = "";
  private pending: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Sends `GET /` with `headers` (each `Name: value`) and resolves when the whole response is in. */
  get(headers: readonly string[]): Promise<void> {
    const socket = this.socket ?? this.connect();
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(`GET / HTTP/1.1\r\nHost: bench\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffered += chunk;
      this.parse();
    });
    const fail = (err: Error) => {
      this.socket = undefined;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
    this.socket = socket;
    return socket;
  }

  private parse(): void {
    const end = this.buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(this.buffered.slice(0, end))?.[1] ?? 0);
    if (this.buffered.length < end + 4 + length) return;
    this.buffered = this.buffered.slice(end + 4 + length);
    const p = this.pending;
    this.pending = undefined;
    p?.resolve();
  }
}
