import * as http from "node:http";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { generateResponse } from "../../../bench/lib/http-cases.js";
import { ChunkedDecoder, ChunkedError } from "../../../src/data/http1/chunked-decoder.js";
import { FramingError, responseFraming } from "../../../src/data/http1/framing.js";
import { HeadError, HeadScanner, parseResponseHead } from "../../../src/data/http1/head-parser.js";

/**
 * The response side of the differential (see docs/reliability.md): generated member responses to
 * a GET, read by stickylb's pure parser and by llhttp (an `http.request` whose socket is an
 * in-memory stream). A response that stickylb relays whole must be read by llhttp as the same
 * status and body, so that a client behind stickylb never sees another message than the member
 * sent.
 */

type Reading = { status: number; body: string } | { refused: string };

/**
 * stickylb's reading: the whole response, then the member closes. `used` is where the message
 * ends: stickylb relays nothing past it (bytes after a complete response end the member
 * connection instead).
 */
function stickylbReads(bytes: Buffer): Reading & { used?: number } {
  const end = new HeadScanner().feed(bytes, 0, bytes.length);
  if (end instanceof HeadError) return { refused: end.reason };
  if (end === -1) return { refused: "no complete head" };
  const head = parseResponseHead(bytes, 0, end);
  if (head instanceof HeadError) return { refused: head.reason };
  if (head.status < 200) return { refused: "interim response only" };
  const framing = responseFraming(head.raw, head.status, "GET");
  if (framing instanceof FramingError) return { refused: framing.reason };
  if (framing.kind === "none") return { status: head.status, body: "", used: end };
  if (framing.kind === "close")
    return { status: head.status, body: bytes.toString("latin1", end), used: bytes.length };
  if (framing.kind === "length") {
    if (bytes.length - end < framing.length) return { refused: "cut mid-body" };
    const used = end + framing.length;
    return { status: head.status, body: bytes.toString("latin1", end, used), used };
  }
  const data: Buffer[] = [];
  const decoder = new ChunkedDecoder((b, s, e) => data.push(b.subarray(s, e)));
  let used: number;
  try {
    used = decoder.feed(bytes, end, bytes.length);
  } catch (err) {
    if (err instanceof ChunkedError) return { refused: err.message };
    throw err;
  }
  if (!decoder.done) return { refused: "cut mid-body" };
  return { status: head.status, body: Buffer.concat(data).toString("latin1"), used };
}

/** llhttp's reading of the same bytes, as a Node client would get them. */
function llhttpReads(bytes: Buffer): Promise<Reading> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: Reading) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
        if (!pushed) {
          pushed = true;
          socket.push(bytes);
          socket.push(null);
        }
      },
    });
    let pushed = false;
    Object.assign(socket, { setTimeout: () => socket, setNoDelay: () => socket, setKeepAlive: () => socket });
    const req = http.request({
      host: "member.example",
      path: "/",
      method: "GET",
      createConnection: () => socket as never,
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        settle({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("latin1") }),
      );
      res.on("error", (err: NodeJS.ErrnoException) => settle({ refused: err.code ?? "error" }));
      res.on("aborted", () => settle({ refused: "aborted" }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => settle({ refused: err.code ?? "error" }));
    req.end();
    const timer = setTimeout(() => settle({ refused: "timeout" }), 1_000);
  });
}

const SEED = 77;
const CASES = 3_000;

describe("stickylb's pure parser against llhttp, generated member responses (no sockets)", () => {
  it(`${CASES} responses (seed ${SEED}): what stickylb relays whole, llhttp reads the same`, async () => {
    const problems: string[] = [];
    let relayed = 0;
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const c = generateResponse(SEED, i);
      const { used, ...ours } = stickylbReads(c.bytes);
      if ("refused" in ours) {
        refused++;
        continue;
      }
      relayed++;
      const ref = await llhttpReads(c.bytes.subarray(0, used));
      if (JSON.stringify(ours) !== JSON.stringify(ref))
        problems.push(
          JSON.stringify({ i, tags: c.tags, ours, ref, bytes: c.bytes.toString("latin1") }).slice(0, 600),
        );
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(relayed).toBeGreaterThan(CASES / 4);
    expect(refused).toBeGreaterThan(CASES / 10);
  }, 120_000);
});
