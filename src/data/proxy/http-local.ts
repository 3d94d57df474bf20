import { type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

function bodyOf(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ""}\n`;
}

/**
 * A response stickylb itself produces (404, 502, 503, 504). `close` ends the client connection
 * after it: needed when the request body was not read to its end.
 */
export function sendLocal(res: ServerResponse, status: number, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = bodyOf(status);
  const headers: Record<string, string | number> = {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  };
  if (close) headers.Connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}

/** The same on a raw socket (parser errors, refused upgrades); the connection is closed after it. */
export function writeRawResponse(socket: Duplex, status: number, extra: readonly string[] = []): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = bodyOf(status);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...extra,
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

/** A response head in wire form from a flat raw header array. */
export function rawHead(status: number, message: string | undefined, raw: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? ""}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}
