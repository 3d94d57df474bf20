import type { Socket } from "node:net";
import { type ProxyHeader, readProxyHeaderThen } from "../data/listener/proxy-protocol.js";

export interface HandoffHeader {
  readonly header: ProxyHeader;
  /** Bytes read past the header; the worker puts them back in front of the stream. */
  readonly leftover: Buffer;
}

/**
 * Reads a PROXY protocol header in the primary, before the socket's handle is passed to a worker.
 * Unlike `readProxyHeader` (which pushes extra bytes back into this process's stream), everything
 * read past the header must travel with the handle, and the handle must stop reading first:
 * bytes that reached this process after the send would be lost. So once the header is complete,
 * the buffered stream is drained and the handle's reading stopped in the same tick.
 */
export function readProxyHeaderForHandoff(socket: Socket, timeoutMs: number): Promise<HandoffHeader> {
  const reading = readProxyHeaderThen(socket, timeoutMs, (header, rest) => {
    // Data the stream buffered but did not emit yet; read() may restart the handle, so stop after.
    const extra = socket.readableLength > 0 ? (socket.read(socket.readableLength) as Buffer | null) : null;
    stopReading(socket);
    return { header, leftover: extra === null ? rest : Buffer.concat([rest, extra]) };
  });
  // Accepted with `pauseOnConnect`, the stream is explicitly paused: a data listener alone does not start it.
  socket.resume();
  return reading;
}

/** Stops libuv reading the socket (no public API does this for a plain net.Socket). */
function stopReading(socket: Socket): void {
  const handle = (socket as Socket & { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
  if (handle?.readStop === undefined) return;
  handle.readStop();
  handle.reading = false;
}
