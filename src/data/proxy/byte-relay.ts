/**
 * The byte relay between a client and its member socket, reading into reused buffers.
 *
 * WHY: `pipe` lets Node allocate a fresh 64 KiB buffer for every read. At gigabits a second that is
 * tens of thousands of short-lived external allocations a second, and V8 answers the external-memory
 * pressure with mark-compacts of the whole heap — the larger the process's heap, the dearer each one
 * (bulk TCP ran at 0.45 × a naive `pipe` relay for that reason). Here each direction reads into one
 * buffer of its own, taken from a bounded pool and kept for the life of the connection, so bulk
 * transfers allocate nothing per read.
 *
 * Correctness: a write of a slice of the buffer may leave bytes queued (the member reads slower than
 * the client sends). Those bytes still live in the buffer, so the next read must not overwrite them:
 * after every write, if anything is still queued on the writing side, reading stops until that
 * write's callback says it was handed to the kernel, and only then does it resume into the same
 * buffer. That is also the back-pressure (what `pipe` does at its high-water mark). A buffer goes
 * back to the pool only when both sockets have closed: libuv neither reads into it nor writes from
 * it after a close.
 *
 * Node exposes reads into a caller's buffer (`onread`) only for sockets it creates with
 * `net.connect`/`new net.Socket`, not for sockets a server accepts; {@link installReadBuffer} applies
 * the same mechanism to an existing socket through Node's own fields. When that mechanism is missing
 * (another Node version) or the pool is spent, the relay falls back to `pipe`, which is correct,
 * only slower.
 */
import type * as net from "node:net";

/** Size of one read buffer: Node's own default read size, so each read is as large as with `pipe`. */
export const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Read buffers kept for reuse, at most `maxBuffers` of them ever allocated (each direction of a
 * connection on the fast path holds one; connections beyond the bound use `pipe`).
 */
export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;

  constructor(
    readonly maxBuffers: number,
    readonly bufferBytes: number = READ_BUFFER_BYTES,
  ) {}

  /** A buffer for one direction, or undefined when the bound is reached. */
  take(): Buffer | undefined {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.allocated >= this.maxBuffers) return undefined;
    this.allocated++;
    // Slow (unpooled) allocation: the buffer lives as long as the pool, never in Node's shared slab.
    return Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  give(buffer: Buffer): void {
    this.free.push(buffer);
  }

  /** Buffers currently lent to connections. */
  inUse(): number {
    return this.allocated - this.free.length;
  }
}

/**
 * The process's pool: 1,024 buffers of 64 KiB, so at most 64 MiB of read buffers, enough for 512
 * connections on the fast path at once; the 513th and later use `pipe` until a buffer comes back.
 */
export const sharedReadBuffers = new ReadBufferPool(1024);

/** Node's private fields behind the `onread` option, looked up once by their descriptions. */
interface ReadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

let readFields: ReadFields | null | undefined;

function findReadFields(socket: net.Socket): ReadFields | null {
  if (readFields !== undefined) return readFields;
  const byName = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const buffer = byName.get("kBuffer");
  const callback = byName.get("kBufferCb");
  const generator = byName.get("kBufferGen");
  readFields = buffer && callback && generator ? { buffer, callback, generator } : null;
  return readFields;
}

interface StreamHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
  reading?: boolean;
}

/**
 * Makes `socket` deliver its reads into `buffer` through `onRead(bytes, buffer)` instead of `data`
 * events, as Node's `onread` option does; `onRead` returning false stops reading until
 * `socket.resume()`. Data Node read before the switch stays in the socket's readable buffer: the
 * caller drains it with `socket.read()` first. False (and nothing changed) when this Node does not
 * offer the mechanism or the socket has no handle any more.
 */
export function installReadBuffer(
  socket: net.Socket,
  buffer: Buffer,
  onRead: (bytes: number, buffer: Buffer) => boolean,
): boolean {
  const fields = findReadFields(socket);
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (fields === null || handle == null || typeof handle.useUserBuffer !== "function") return false;
  const own = socket as unknown as Record<symbol, unknown>;
  if (own[fields.buffer] !== null || own[fields.generator] !== null) return false;
  own[fields.buffer] = buffer;
  own[fields.callback] = onRead;
  handle.useUserBuffer(buffer);
  return true;
}

/** True when this Node lets {@link installReadBuffer} work (tests assert it, so an upgrade that breaks it shows). */
export function readBuffersSupported(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  return findReadFields(socket) !== null && typeof handle?.useUserBuffer === "function";
}

/**
 * Relays `from` → `to` through `buffer`: writes each read, stops reading while a write is queued,
 * ends `to` when `from` ends (half-close). `onFault` ends the connection when a callback throws.
 */
function relayOneWay(
  from: net.Socket,
  to: net.Socket,
  buffer: Buffer,
  onFault: (err: unknown) => void,
): boolean {
  const resumeReading = (err?: Error | null): void => {
    // A failed write means `to` is being destroyed; the connection's close handling ends both sides.
    // With bytes still queued (an earlier write finished, a later one holds the buffer), the later
    // write's own callback resumes.
    if (err == null && !from.destroyed && to.writableLength === 0) from.resume();
  };
  const onRead = (bytes: number, buf: Buffer): boolean => {
    try {
      to.write(buf.subarray(0, bytes), resumeReading);
      // Nothing queued: the kernel took every byte, the buffer is free for the next read. Otherwise
      // the queued bytes are still in the buffer: no read until `resumeReading`.
      return to.writableLength === 0;
    } catch (err) {
      onFault(err);
      return false;
    }
  };
  // A source that ended before the relay began (a client that half-closed while its placement
  // waited, say) has emitted "end" already and never will again: end `to` now, as `pipe` would.
  // Nothing is left to read, so no buffer is installed.
  if (from.readableEnded) {
    if (!to.destroyed) to.end();
    return true;
  }
  from.once("end", () => {
    if (!to.destroyed) to.end();
  });
  // Bytes Node read before the switch (and any PROXY-header leftover put back) go first; they are
  // Node's own buffers, so only back-pressure waits for them.
  const early = from.read() as Buffer | null;
  if (!installReadBuffer(from, buffer, onRead)) {
    if (early !== null) from.unshift(early);
    return false;
  }
  if (early === null) from.resume();
  else to.write(early, resumeReading);
  return true;
}

/**
 * Relays bytes both ways between two connected sockets, with back-pressure and half-close, on
 * reused buffers from `pool` when it can, else with `pipe`. `onFault` is called (and the relay stops
 * reading) when a relay callback throws: the caller ends the connection.
 */
export function relayBothWays(
  client: net.Socket,
  upstream: net.Socket,
  onFault: (err: unknown) => void,
  pool: ReadBufferPool = sharedReadBuffers,
): "buffers" | "pipe" {
  const fast =
    readBuffersSupported(client) &&
    readBuffersSupported(upstream) &&
    client.readableFlowing !== true &&
    upstream.readableFlowing !== true;
  const inbound = fast ? pool.take() : undefined;
  const outbound = inbound === undefined ? undefined : pool.take();
  if (inbound === undefined || outbound === undefined) {
    if (inbound !== undefined) pool.give(inbound);
    client.pipe(upstream);
    upstream.pipe(client);
    return "pipe";
  }
  let open = 2;
  const closed = (): void => {
    if (--open > 0) return;
    pool.give(inbound);
    pool.give(outbound);
  };
  client.once("close", closed);
  upstream.once("close", closed);
  // Checked above, so neither install can refuse: the fields exist and both handles are open.
  relayOneWay(client, upstream, inbound, onFault);
  relayOneWay(upstream, client, outbound, onFault);
  return "buffers";
}
