import * as http from "node:http";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { generateCase, Prng } from "../../../bench/lib/http-cases.js";
import { ChunkedDecoder, ChunkedError } from "../../../src/data/http1/chunked-decoder.js";
import { FramingError, requestFraming } from "../../../src/data/http1/framing.js";
import { HeadError, HeadScanner, parseRequestHead } from "../../../src/data/http1/head-parser.js";
import { connectionInfo, headerCount } from "../../../src/data/proxy/http-headers.js";

/**
 * The differential campaign at unit level, no sockets: the same generated streams as
 * test/e2e/http-differential.test.ts, read by stickylb's pure parser (head scanner, head parser,
 * framing, chunked follower, the Host and CONNECT rules of the client connection) and by llhttp
 * (a `node:http` server given an in-memory stream). What stickylb accepts, llhttp must read as the
 * same messages; and a stream read whole or in random pieces must give the same result.
 */

interface Parsed {
  readonly method: string;
  readonly target: string;
  readonly body: string;
}

interface Outcome {
  readonly messages: Parsed[];
  /** Why stickylb stopped: a refusal, "incomplete" (waits for more bytes) or "closed". */
  readonly end: string;
}

/** stickylb's reading of a client stream, fed in `pieces` as a connection would receive it. */
function stickylbReads(pieces: readonly Buffer[]): Outcome {
  const messages: Parsed[] = [];
  let pending = Buffer.alloc(0);
  const scanner = new HeadScanner();
  let body: { decoder?: ChunkedDecoder; left: number; data: Buffer[]; head: Parsed } | undefined;
  let closeAfter = false;
  for (const piece of pieces) {
    pending = Buffer.concat([pending, piece]);
    for (;;) {
      if (body !== undefined) {
        const b = body;
        let stop: number;
        if (b.decoder !== undefined) {
          try {
            stop = b.decoder.feed(pending, 0, pending.length);
          } catch (err) {
            if (err instanceof ChunkedError) return { messages, end: err.message };
            throw err;
          }
        } else {
          stop = Math.min(pending.length, b.left);
          b.left -= stop;
          b.data.push(pending.subarray(0, stop));
        }
        pending = pending.subarray(stop);
        if (b.decoder !== undefined ? !b.decoder.done : b.left > 0) break;
        messages.push({ ...b.head, body: Buffer.concat(b.data).toString("latin1") });
        body = undefined;
        if (closeAfter) return { messages, end: "closed" };
      }
      let skip = 0;
      while (skip + 1 < pending.length && pending[skip] === 13 && pending[skip + 1] === 10) skip += 2;
      if (skip > 0) {
        pending = pending.subarray(skip);
        scanner.reset();
      }
      if (pending.length === 0) break;
      const end = scanner.feed(pending, 0, pending.length);
      if (end instanceof HeadError) return { messages, end: end.reason };
      if (end === -1) break;
      const head = parseRequestHead(pending, 0, end);
      if (head instanceof HeadError) return { messages, end: head.reason };
      pending = pending.subarray(end);
      const framing = requestFraming(head.raw, head.minor);
      if (framing instanceof FramingError) return { messages, end: framing.reason };
      const hosts = headerCount(head.raw, "host");
      if (hosts > 1 || (hosts === 0 && head.minor === 1)) return { messages, end: "Host" };
      if (head.method === "CONNECT") return { messages, end: "CONNECT" };
      const connection = connectionInfo(head.raw);
      closeAfter = head.minor === 1 ? connection.close : !connection.keepAlive;
      const parsed = { method: head.method, target: head.target, body: "" };
      const data: Buffer[] = [];
      if (framing.kind === "chunked")
        body = {
          decoder: new ChunkedDecoder((b, s, e) => data.push(b.subarray(s, e))),
          left: 0,
          data,
          head: parsed,
        };
      else body = { left: framing.kind === "length" ? framing.length : 0, data, head: parsed };
    }
  }
  return { messages, end: "incomplete" };
}

interface LlhttpOutcome {
  readonly messages: Parsed[];
  readonly errors: string[];
}

type MemorySocket = Duplex & { messages: Parsed[]; errors: string[] };

const llhttp = http.createServer({ maxHeaderSize: 80 * 1024 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    (req.socket as unknown as MemorySocket).messages.push({
      method: req.method ?? "",
      target: req.url ?? "",
      body: Buffer.concat(chunks).toString("latin1"),
    });
    res.end("ok");
  });
});
llhttp.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
  (socket as MemorySocket).errors.push(err.code ?? "unknown");
  // Later, so that a message parsed just before the error still reaches its "end".
  setImmediate(() => socket.destroy());
});

/** llhttp's reading of the same stream, through a `node:http` server on an in-memory socket. */
function llhttpReads(bytes: Buffer): Promise<LlhttpOutcome> {
  return new Promise((resolve) => {
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    }) as MemorySocket;
    Object.assign(socket, {
      messages: [],
      errors: [],
      remoteAddress: "127.0.0.9",
      setTimeout: () => socket,
      setNoDelay: () => socket,
      setKeepAlive: () => socket,
    });
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ messages: socket.messages, errors: socket.errors });
    };
    // Ends when the server closes its side, or when all input is read and answered.
    socket.on("close", settle);
    const timer = setTimeout(settle, 1_000);
    llhttp.emit("connection", socket);
    socket.push(bytes);
    socket.push(null);
  });
}

/** Cuts `bytes` at a few seeded random places. */
function pieces(bytes: Buffer, rng: Prng): Buffer[] {
  const cuts = new Set<number>();
  for (let k = rng.int(6); k > 0; k--) cuts.add(1 + rng.int(Math.max(1, bytes.length - 1)));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of sorted) {
    out.push(bytes.subarray(at, cut));
    at = cut;
  }
  out.push(bytes.subarray(at));
  return out;
}

const SEED = 424_242;
const CASES = 4_000;
const LLHTTP_METHODS = new Set(http.METHODS);

describe("stickylb's pure parser against llhttp, generated streams (no sockets)", () => {
  it(`${CASES} cases (seed ${SEED}): never looser than llhttp, the same whole or in pieces`, async () => {
    const rng = new Prng(SEED);
    const problems: unknown[] = [];
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const c = generateCase(SEED, i);
      const whole = stickylbReads([c.bytes]);
      const split = stickylbReads(pieces(c.bytes, rng));
      if (JSON.stringify(whole) !== JSON.stringify(split)) problems.push({ i, whole, split, tags: c.tags });
      const ref = await llhttpReads(c.bytes);
      const n = whole.messages.length;
      let why: string | undefined;
      if (n > ref.messages.length) {
        // Only a method unknown to llhttp may be read by stickylb alone: a token, no framing at stake.
        const next = whole.messages[ref.messages.length]!;
        const unknownMethod = !LLHTTP_METHODS.has(next.method) && ref.errors[0] === "HPE_INVALID_METHOD";
        if (!unknownMethod)
          why = `stickylb reads ${n} messages, llhttp ${ref.messages.length} (${ref.errors})`;
      }
      for (let k = 0; k < Math.min(n, ref.messages.length) && why === undefined; k++)
        if (JSON.stringify(whole.messages[k]) !== JSON.stringify(ref.messages[k]))
          why = `message ${k} differs`;
      if (why !== undefined)
        problems.push({ i, why, tags: c.tags, bytes: c.bytes.toString("latin1"), whole, ref });
      // Clean streams are read in full: strictness must not refuse well-formed traffic.
      if (c.tags[0] === "clean" && whole.end !== "closed" && whole.end !== "incomplete")
        problems.push({ i, why: `clean case refused: ${whole.end}`, bytes: c.bytes.toString("latin1") });
      if (whole.end === "closed" || whole.end === "incomplete") accepted++;
      else refused++;
    }
    expect(problems.slice(0, 5).map((p) => JSON.stringify(p).slice(0, 600))).toEqual([]);
    expect(accepted).toBeGreaterThan(CASES / 4);
    expect(refused).toBeGreaterThan(CASES / 4);
  }, 120_000);
});
