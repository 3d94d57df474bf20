/**
 * Helpers for the wire-level tests of the HTTP forwarding path (`wire-*.test.ts`): members that are
 * raw `net` servers (every byte they receive is kept, every byte they send is chosen by the test),
 * clients that are raw sockets with a small independent HTTP/1.1 response reader, and an in-process
 * proxy like `harness.ts` that also exposes the listener's open-socket count.
 *
 * Everything started here is registered for {@link cleanupWire}, which each test file calls in
 * `afterEach`.
 */
import * as net from "node:net";
import pino from "pino";
import { ManualClock } from "../../../src/core/clock.js";
import type { ListenerModel, PoolModel } from "../../../src/core/model.js";
import { SnapshotHolder } from "../../../src/core/snapshot-holder.js";
import type { DataPathContext } from "../../../src/data/context.js";
import { FaultCounters } from "../../../src/data/fault-guard.js";
import { startHttpListener } from "../../../src/data/listener/http-listener.js";
import { HttpListenerCounters } from "../../../src/data/proxy/http-counters.js";
import type { Snapshot } from "../../../src/data/snapshot.js";
import { MemberConnectionPools } from "../../../src/data/upstream/member-connections.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import { buildSnapshot } from "../../../src/runtime/build-snapshot.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";
import { listenerModel, poolModel } from "./harness.js";

const cleanups: (() => Promise<void> | void)[] = [];

/** Closes every proxy, member and client started since the last call (newest first). */
export async function cleanupWire(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** Default wait of every helper: tests stay bounded even when the proxy misbehaves. */
/** The headers of a WebSocket upgrade request, and a member's `101` to it. */
export const UPGRADE = "Host: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n";
export const SWITCHING =
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

export const WAIT_MS = 3_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- framing helpers shared by the member and the client ------------------------------------

/** `[name, value]` pairs of a head's field lines (the start line excluded). */
function parseFields(head: string): [string, string][] {
  const lines = head.split("\r\n").slice(1);
  const out: [string, string][] = [];
  for (const line of lines) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    out.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return out;
}

function valuesOf(headers: readonly [string, string][], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/**
 * A complete chunked body at `buf[start…]`: its end (past the final CRLF) and its data, or
 * undefined while incomplete. Throws on framing this reader does not understand.
 */
export function readChunked(buf: Buffer, start: number): { end: number; data: Buffer } | undefined {
  let p = start;
  const pieces: Buffer[] = [];
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", p, "latin1");
    if (lineEnd === -1) return undefined;
    const sizeText = buf.toString("latin1", p, lineEnd).split(";")[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
    const size = Number.parseInt(sizeText, 16);
    p = lineEnd + 2;
    if (size === 0) {
      // Trailer section: lines until an empty one.
      for (;;) {
        const end = buf.indexOf("\r\n", p, "latin1");
        if (end === -1) return undefined;
        if (end === p) return { end: p + 2, data: Buffer.concat(pieces) };
        p = end + 2;
      }
    }
    if (buf.length < p + size + 2) return undefined;
    pieces.push(buf.subarray(p, p + size));
    if (buf.toString("latin1", p + size, p + size + 2) !== "\r\n") throw new Error("chunk without CRLF");
    p += size + 2;
  }
}

// ---- raw members ----------------------------------------------------------------------------

export interface MemberRequest {
  /** The head as received, blank line included. */
  readonly head: string;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: [string, string][];
  /** The body bytes as received (chunk framing included); grows until `complete`. */
  body: Buffer;
  complete: boolean;
  readonly conn: MemberConnection;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

export interface MemberConnection {
  /** 1 for the first connection the member accepted, then 2… */
  readonly id: number;
  readonly socket: net.Socket;
  /** Every byte received on this connection. */
  received: Buffer;
  readonly requests: MemberRequest[];
  closed: boolean;
}

type MemberHandler = (req: MemberRequest, conn: MemberConnection) => void;

/** `HTTP/1.1 200 OK` with a Content-Length body. */
export function okResponse(body: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

/**
 * A member on a raw `net` server. It splits what it receives into requests (Content-Length and
 * chunked bodies) with its own small reader, calls `onHead` when a head is complete and
 * `onRequest` when its body is; by default it answers `200` with body `METHOD TARGET`.
 */
export class RawMember {
  readonly connections: MemberConnection[] = [];
  readonly requests: MemberRequest[] = [];
  onHead: MemberHandler | undefined;
  onRequest: MemberHandler = (req, conn) => {
    conn.socket.write(okResponse(`${req.method} ${req.target}`, `X-Conn: ${conn.id}\r\n`));
  };

  private constructor(
    private readonly server: net.Server,
    readonly address: string,
    readonly port: number,
  ) {}

  static async start(address = "127.0.0.1"): Promise<RawMember> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address, port: 0 }, resolve);
    });
    const member = new RawMember(server, address, (server.address() as net.AddressInfo).port);
    server.on("connection", (socket) => member.accept(socket));
    cleanups.push(() => member.close());
    return member;
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.connections.length;
  }

  /** Every byte every connection received, in connection order. */
  allReceived(): string {
    return this.connections.map((c) => c.received.toString("latin1")).join("");
  }

  private accept(socket: net.Socket): void {
    const conn: MemberConnection = {
      id: this.connections.length + 1,
      socket,
      received: Buffer.alloc(0),
      requests: [],
      closed: false,
    };
    this.connections.push(conn);
    socket.on("error", () => {});
    socket.on("close", () => {
      conn.closed = true;
    });
    let pending = Buffer.alloc(0);
    let current: MemberRequest | undefined;
    let framing: { kind: "length"; left: number } | { kind: "chunked" } | undefined;
    socket.on("data", (chunk: Buffer) => {
      conn.received = Buffer.concat([conn.received, chunk]);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (current === undefined) {
          const end = pending.indexOf("\r\n\r\n", 0, "latin1");
          if (end === -1) return;
          const head = pending.toString("latin1", 0, end + 4);
          pending = pending.subarray(end + 4);
          const [method = "", target = "", version = ""] = head.split("\r\n")[0]!.split(" ");
          const headers = parseFields(head);
          const req: MemberRequest = {
            head,
            method,
            target,
            version,
            headers,
            body: Buffer.alloc(0),
            complete: false,
            conn,
            header: (name) => valuesOf(headers, name)[0],
            headerAll: (name) => valuesOf(headers, name),
          };
          current = req;
          const te = req.header("transfer-encoding");
          const cl = req.header("content-length");
          framing =
            te !== undefined && /chunked\s*$/i.test(te)
              ? { kind: "chunked" }
              : cl !== undefined && Number(cl) > 0
                ? { kind: "length", left: Number(cl) }
                : undefined;
          this.requests.push(req);
          conn.requests.push(req);
          this.onHead?.(req, conn);
        }
        const req = current;
        if (framing?.kind === "length") {
          const take = Math.min(framing.left, pending.length);
          req.body = Buffer.concat([req.body, pending.subarray(0, take)]);
          pending = pending.subarray(take);
          framing.left -= take;
          if (framing.left > 0) return;
        } else if (framing?.kind === "chunked") {
          const whole = Buffer.concat([req.body, pending]);
          const found = readChunked(whole, 0);
          if (found === undefined) {
            req.body = whole;
            pending = Buffer.alloc(0);
            return;
          }
          req.body = whole.subarray(0, found.end);
          pending = whole.subarray(found.end);
        }
        req.complete = true;
        current = undefined;
        framing = undefined;
        this.onRequest(req, conn);
        if (socket.destroyed) return;
      }
    });
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      for (const c of this.connections) c.socket.destroy();
      this.server.close(() => resolve());
    });
  }
}

// ---- raw clients ----------------------------------------------------------------------------

export interface WireResponse {
  readonly status: number;
  readonly reason: string;
  /** The head as received, blank line included. */
  readonly head: string;
  readonly headers: [string, string][];
  /** The body bytes as they came (chunk framing included). */
  readonly body: Buffer;
  /** The body's data (without chunk framing). */
  readonly data: Buffer;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

/** A client on a raw socket, reading the responses it gets with its own small reader. */
export class RawClient {
  /**
   * Bytes received since `received` was last joined. Joining on every chunk would copy a large
   * body over and over (quadratic: seconds for 16 MiB on a busy machine, during which this
   * process, which also runs the proxy, reads too slowly and the proxy's timeouts fire).
   */
  private chunks: Buffer[] = [];
  private joined = Buffer.alloc(0);
  private length = 0;
  /** The response being read needs this many bytes in all; no parse is tried before. */
  private needed = 0;
  /** How far {@link response} has read. */
  private cursor = 0;
  /** The peer ended its side (FIN) or the socket closed. */
  ended = false;
  closed = false;
  endedAt = 0;
  error: Error | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      if (this.length >= this.needed) this.wake();
    });
    socket.on("end", () => this.markEnded());
    socket.on("error", (err) => {
      this.error = err;
    });
    socket.on("close", () => {
      this.closed = true;
      this.markEnded();
    });
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    const socket = net.connect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawClient(socket);
    cleanups.push(() => {
      socket.destroy();
    });
    return client;
  }

  /** Every byte received. */
  get received(): Buffer {
    if (this.chunks.length > 0) {
      this.joined = Buffer.concat([this.joined, ...this.chunks]);
      this.chunks = [];
    }
    return this.joined;
  }

  private markEnded(): void {
    if (!this.ended) {
      this.ended = true;
      this.endedAt = Date.now();
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  write(data: string | Buffer): void {
    if (typeof data === "string") this.socket.write(data, "latin1");
    else this.socket.write(data);
  }

  /** Everything received, as latin1 text. */
  text(): string {
    return this.received.toString("latin1");
  }

  /** Bytes received and not yet read by {@link response}. */
  unread(): string {
    return this.received.toString("latin1", this.cursor);
  }

  /** Waits until `done()` holds; rejects after `ms` with what was received so far. */
  waitFor(done: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what}; ended=${this.ended}, received ${JSON.stringify(this.text())}`,
          ),
        );
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for the proxy to end the connection (FIN or close). */
  waitEnded(ms = WAIT_MS): Promise<void> {
    return this.waitFor(() => this.ended, "the connection to end", ms);
  }

  /**
   * The next response (interim 1xx responses included, one at a time). `method` is the request's,
   * needed for HEAD; a response delimited by the close is complete when the connection ends.
   */
  async response(method = "GET", ms = WAIT_MS): Promise<WireResponse> {
    let parsed: { response: WireResponse; end: number } | undefined;
    try {
      await this.waitFor(
        () => {
          parsed = this.tryParse(method);
          return parsed !== undefined || this.ended;
        },
        `a response to ${method}`,
        ms,
      );
    } finally {
      this.needed = 0;
    }
    if (parsed === undefined)
      throw new Error(
        `the connection ended before a complete response to ${method}; received ${JSON.stringify(this.text())}`,
      );
    this.cursor = parsed.end;
    return parsed.response;
  }

  private tryParse(method: string): { response: WireResponse; end: number } | undefined {
    const buf = this.received;
    const start = this.cursor;
    const headEnd = buf.indexOf("\r\n\r\n", start, "latin1");
    if (headEnd === -1) return undefined;
    const head = buf.toString("latin1", start, headEnd + 4);
    const statusLine = head.split("\r\n")[0]!;
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (match === null) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const status = Number(match[1]);
    const headers = parseFields(head);
    const bodyStart = headEnd + 4;
    const te = valuesOf(headers, "transfer-encoding")[0];
    const cl = valuesOf(headers, "content-length")[0];
    let end: number;
    let data: Buffer;
    if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
      end = bodyStart;
      data = Buffer.alloc(0);
    } else if (te !== undefined) {
      const found = readChunked(buf, bodyStart);
      if (found === undefined) return undefined;
      end = found.end;
      data = found.data;
    } else if (cl !== undefined) {
      end = bodyStart + Number(cl);
      if (buf.length < end) {
        this.needed = end;
        return undefined;
      }
      data = buf.subarray(bodyStart, end);
    } else {
      if (!this.ended) return undefined;
      end = buf.length;
      data = buf.subarray(bodyStart, end);
    }
    const body = buf.subarray(bodyStart, end);
    return {
      end,
      response: {
        status,
        reason: match[2] ?? "",
        head,
        headers,
        body,
        data,
        header: (name) => valuesOf(headers, name)[0],
        headerAll: (name) => valuesOf(headers, name),
      },
    };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- the proxy ------------------------------------------------------------------------------

export interface WireProxy {
  readonly port: number;
  readonly counters: HttpListenerCounters;
  /** The proxy's keep-alive pools towards members. */
  readonly agents: MemberConnectionPools;
  /** The snapshot holder (pool counters, affinity decisions). */
  readonly holder: SnapshotHolder<Snapshot>;
  /** The data path's clock (manual: it moves only when a test says so). */
  readonly clock: ManualClock;
  /** Every line logged at info level or above, parsed (access-log lines among them). */
  readonly logLines: Record<string, unknown>[];
  /** Connect outcomes reported for passive health, in order: `failed ADDRESS:PORT` or `ok ADDRESS:PORT`. */
  readonly outcomes: string[];
  /** Bugs contained on the data path, by site. */
  readonly faults: FaultCounters;
  /** Client sockets the listener holds open. */
  openCount(): number;
  close(): Promise<void>;
}

/**
 * An in-process HTTP listener (port 0 on 127.0.0.1) whose default pool `web` holds `members`, as in
 * `harness.ts`, with its own member pools and a manual clock.
 */
export async function startWireProxy(
  members: readonly { address: string; port: number }[],
  over: Partial<ListenerModel> = {},
  poolOver: Partial<PoolModel> = {},
): Promise<WireProxy> {
  const model = { listeners: [listenerModel(over)], pools: [poolModel("web", members, poolOver)] };
  const clock = new ManualClock(1_700_000_000_000);
  const registry = new MemberRegistry(clock);
  const states = new PoolStates(clock);
  const holder = new SnapshotHolder<Snapshot>(buildSnapshot(model, 1, registry, states, undefined, 1000));
  const agents = new MemberConnectionPools();
  const faults = new FaultCounters();
  const logLines: Record<string, unknown>[] = [];
  const outcomes: string[] = [];
  const logSink = { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) };
  const ctx: DataPathContext = {
    holder,
    memberPools: agents,
    faults,
    clock,
    log: pino({ level: "info" }, logSink),
    outcomes: {
      connectFailed: (m) => outcomes.push(`failed ${m.endpoint}`),
      connectSucceeded: (m) => outcomes.push(`ok ${m.endpoint}`),
    },
  };
  const counters = new HttpListenerCounters();
  const running = await startHttpListener(model.listeners[0]!, ctx, { counters, agents });
  const proxy: WireProxy = {
    port: running.port,
    counters,
    agents,
    holder,
    clock,
    logLines,
    outcomes,
    faults,
    openCount: () => running.openCount(),
    close: async () => {
      await running.stopAccepting();
      running.closeAll();
      agents.destroyAll();
    },
  };
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A raw member and a proxy in front of it. */
export async function memberAndProxy(
  over: Partial<ListenerModel> = {},
): Promise<{ member: RawMember; proxy: WireProxy }> {
  const member = await RawMember.start();
  const proxy = await startWireProxy([member], over);
  return { member, proxy };
}

/** Listener timeouts with the given overrides (the rest generous). */
export function timeouts(over: Partial<ListenerModel["timeouts"]>): ListenerModel["timeouts"] {
  return { idleMs: 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 2_000, ...over };
}
