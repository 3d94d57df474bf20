import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

function bodyOf(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ""}\n`;
}

/**
 * A response stickylb itself produces (400, 404, 408, 431, 502, 503, 504), in wire form. `close`
 * announces that the client connection ends after it: needed after a refused head, or when the
 * request body was not read to its end.
 */
export function localResponse(status: number, close: boolean, extra: readonly string[] = []): string {
  const body = bodyOf(status);
  let head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${body.length}\r\n`;
  if (close) head += "Connection: close\r\n";
  for (let i = 0; i + 1 < extra.length; i += 2) head += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}

/** The same on a socket that is closed after it (parser errors, refused upgrades). */
export function writeRawResponse(socket: Duplex, status: number, extra: readonly string[] = []): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(localResponse(status, true, extra), "latin1");
}

/** A request head in wire form from a flat raw header array (the member hop is HTTP/1.1). */
export function rawRequestHead(method: string, target: string, raw: readonly string[]): string {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** A response head in wire form from a flat raw header array. */
export function rawHead(status: number, message: string | undefined, raw: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? ""}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}
