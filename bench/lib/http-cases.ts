/**
 * A generator of HTTP/1.1 request streams for differential testing against llhttp: valid requests
 * and mutated ones (request-line variants, header oddities, every Content-Length /
 * Transfer-Encoding combination, chunk lines with whitespace, extensions, leading zeros, upper-case
 * hex, huge sizes, bare LF, obs-fold, NUL and control bytes, very long lines, pipelining).
 *
 * Deterministic: a case is a function of (seed, index) only, through a small seeded PRNG
 * (mulberry32), so a failing case is reproduced from its two numbers and no `Math.random` hides
 * one. Every case ends with a sentinel request carrying `Connection: close`, so that a stream that
 * both parsers accept ends by itself; when a mutation swallows the sentinel into a body, both sides
 * see the same swallowing (or a timeout ends the case).
 */

/** mulberry32: 32-bit state, fast, good enough to spread choices; not for cryptography. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export interface HttpCase {
  readonly seed: number;
  readonly index: number;
  /** What was generated and mutated, for a report line. */
  readonly tags: readonly string[];
  /** The bytes the client sends, sentinel included. */
  readonly bytes: Buffer;
}

/** The last request of every case; a recording backend answers it and the connection closes. */
export const SENTINEL = "GET /__sentinel HTTP/1.1\r\nHost: sentinel.example\r\nConnection: close\r\n\r\n";

/** Methods llhttp knows (a few of its list), and odd ones. */
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "PURGE"];
const ODD_METHODS = ["get", "G\x00T", "GE T", "GET\t", "FOO", "", "GET/", "M-SEARCH", "CONNECT", "TRACE"];
const TARGETS = ["/", "/a/b?c=d&e=f", "/%41%42", "/caf%C3%A9", "/x;y", "http://shop.example/abs", "/?q=a+b"];
const ODD_TARGETS = [
  "/caf\xc3\xa9",
  "",
  "/a b",
  "/a\x00b",
  "/a\tb",
  "/a\x7fb",
  "*",
  "shop.example:80",
  "/#frag",
  "/\xff",
];
const VERSIONS = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0"];
const ODD_VERSIONS = [
  "HTTP/1.2",
  "HTTP/2.0",
  "http/1.1",
  "HTTP/1.1 ",
  "HTTP/01.1",
  "HTTP/1",
  "HTTP/1.1\t",
  "HTTPS/1.1",
  "",
];
const HEADERS: readonly (readonly [string, string])[] = [
  ["Accept", "*/*"],
  ["User-Agent", "differential/1"],
  ["X-Request-Id", "abc-123"],
  ["Cookie", "a=b; c=d"],
  ["X-Empty", ""],
  ["X-Obs-Text", "caf\xe9"],
  ["X-Padded", "  v  "],
  ["X-Tab", "a\tb"],
  ["X-Forwarded-For", "203.0.113.7"],
  ["Content-Type", "text/plain"],
];
/** Header lines that a strict parser refuses (or that are odd but legal), raw. */
const ODD_HEADER_LINES = [
  "X-Fold: a\r\n b",
  "X-Fold: a\r\n\tb",
  "X-Nul: a\x00b",
  "X-Ctl: a\x01b",
  "X-Del: a\x7fb",
  "X-Cr: a\rb",
  "X-Lf: a\nb",
  "X-Space : v",
  "X Space: v",
  "X-NoColon v",
  ": novalue",
  "X-[Brackets]: v",
  "X-\xe9: v",
  " X-Leading: v",
  "\tX-Leading-Tab: v",
  "X-Dup: 1\r\nX-Dup: 2",
  "Host: second.example",
  "Connection: keep-alive, X-Hop",
  "X-Hop: dropped",
  "Connection: close",
  "Keep-Alive: timeout=5",
  "TE: trailers",
  "Upgrade-Insecure-Requests: 1",
];

type Framing =
  | { kind: "none" }
  | { kind: "cl"; header: string[]; body: Buffer }
  | { kind: "chunked"; header: string[]; body: Buffer };

function randomBody(rng: Prng, max: number): Buffer {
  const n = rng.int(max + 1);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    // Mostly printable; now and then a CR, LF or NUL inside the data (legal in a body).
    b[i] = rng.chance(0.05) ? rng.pick([0, 10, 13, 0xff]) : 0x61 + rng.int(26);
  }
  return b;
}

/** A chunk size; leading zeros beyond 15 digits (refused by stickylb, not by llhttp) unless `clean`. */
function hexSize(rng: Prng, n: number, tags: string[], clean: boolean): string {
  let s = n.toString(16);
  if (rng.chance(0.2)) {
    s = s.toUpperCase();
    tags.push("upper-hex");
  }
  if (rng.chance(0.15)) {
    const zeros = rng.pick(
      clean ? [1, 2, 14 - s.length, 15 - s.length] : [1, 2, 15 - s.length, 16 - s.length, 20],
    );
    if (zeros > 0) s = "0".repeat(zeros) + s;
    tags.push(`leading-zeros:${s.length}`);
  }
  return s;
}

const GOOD_EXTENSIONS = [";a", ";a=b", ';a="q v"', ";a=b;c", ';a="x\\"y"', ";!#$%&'*+-.^_`|~=1"];
const BAD_EXTENSIONS = [
  ";",
  "; a",
  " ;a",
  "\t;a",
  ";a ",
  ";a =b",
  ";a= b",
  ";a=",
  ';"x"',
  ";\xff",
  ";a=\xff",
  ';a="\xff"',
  ';a="x',
  ';a="x"y',
  ";a\x00",
  ";a=b\tc",
];
const SIZE_SUFFIXES = [" ", "\t", "  ", " \t"];
const GOOD_TRAILERS = ["X-Trailer: v", "X-Sum: 1\r\nX-Other: 2", "X-Empty:", "X-Obs: \xe9"];
const BAD_TRAILERS = [
  "X-T: a\x00b",
  "X-T: a\x01b",
  "X-T: a\r\n b",
  " X-T: v",
  "X T: v",
  "X-T : v",
  "GET /SMUGGLE HTTP/1.1",
  ": v",
  "Content-Length: 5",
  "Transfer-Encoding: chunked",
  "Host: other.example",
  "Connection: close",
  "Trailer: X",
  "X-T: a\nb",
];

/** A chunked body, mostly well formed; `bad` mutates one part of it. */
function chunkedBody(rng: Prng, tags: string[], bad: boolean): Buffer {
  const parts: string[] = [];
  const n = rng.int(4);
  const badAt = bad ? rng.int(n + 2) : -1; // which line to spoil (n: last chunk, n+1: trailers)
  for (let i = 0; i < n; i++) {
    const data = randomBody(rng, 40);
    const len = data.length === 0 ? 1 : data.length;
    const payload = data.length === 0 ? Buffer.from("z") : data;
    let size = hexSize(rng, len, tags, !bad);
    let ext = rng.chance(0.2) ? rng.pick(GOOD_EXTENSIONS) : "";
    let afterSize = "\r\n";
    let afterData = "\r\n";
    let dataText = payload.toString("latin1");
    if (i === badAt) {
      switch (rng.int(9)) {
        case 0:
          size += rng.pick(SIZE_SUFFIXES);
          tags.push("size-trailing-ws");
          break;
        case 1:
          ext = rng.pick(BAD_EXTENSIONS);
          tags.push("bad-extension");
          break;
        case 2:
          size = rng.pick([" ", "+", "-", "0x", "\t"]) + size;
          tags.push("size-prefix");
          break;
        case 3:
          size = rng.pick(["ffffffffffffffff", "10000000000000000", "fffffffffffffff", "7fffffffffffffff"]);
          tags.push("huge-size");
          break;
        case 4:
          afterSize = "\n";
          tags.push("size-bare-lf");
          break;
        case 5:
          afterData = rng.pick(["\n", "", "\r", "XX\r\n"]);
          tags.push("data-no-crlf");
          break;
        case 6:
          dataText = dataText.slice(0, -1);
          tags.push("data-short");
          break;
        case 7:
          size = rng.pick(["g", "5g", "", "z"]);
          tags.push("size-not-hex");
          break;
        default:
          size += rng.pick(SIZE_SUFFIXES) + ";a";
          tags.push("ws-before-extension");
      }
    }
    parts.push(`${size}${ext}${afterSize}${dataText}${afterData}`);
  }
  let last = rng.chance(0.2) ? "0".repeat(1 + rng.int(3)) : "0";
  let lastExt = rng.chance(0.15) ? rng.pick(GOOD_EXTENSIONS) : "";
  if (badAt === n) {
    if (rng.chance(0.5)) {
      last += rng.pick(SIZE_SUFFIXES);
      tags.push("last-size-trailing-ws");
    } else {
      lastExt = rng.pick(BAD_EXTENSIONS);
      tags.push("last-bad-extension");
    }
  }
  let trailers = "";
  if (badAt === n + 1) {
    trailers = `${rng.pick(BAD_TRAILERS)}\r\n`;
    tags.push("bad-trailer");
  } else if (rng.chance(0.2)) {
    trailers = `${rng.pick(GOOD_TRAILERS)}\r\n`;
    tags.push("trailer");
  }
  parts.push(`${last}${lastExt}\r\n${trailers}\r\n`);
  return Buffer.from(parts.join(""), "latin1");
}

const CL_VARIANTS: readonly ((n: number) => string[])[] = [
  (n) => [`Content-Length: ${n}, ${n}`],
  (n) => [`Content-Length: ${n}`, `Content-Length: ${n}`],
  (n) => [`Content-Length: ${n}`, `content-length: ${n + 1}`],
  (n) => [`Content-Length: ${n},${n + 1}`],
  (n) => [`Content-Length: 0${n}`],
  (n) => [`Content-Length: +${n}`],
  (n) => [`Content-Length: -${n}`],
  (n) => [`Content-Length: ${n.toString(16)}x`],
  (n) => [`Content-Length:  ${n}  `],
  (n) => [`Content-Length: ${n} ${n}`],
  (n) => [`Content-Length: ${n}\xa0`],
  () => ["Content-Length: "],
  () => ["Content-Length: 99999999999999999999"],
  (n) => [`Content-Length: ${n + 3}`], // longer than the body: the sentinel becomes body
  (n) => [`Content-Length: ${Math.max(0, n - 2)}`], // shorter: the rest is the next request
];
const TE_VARIANTS = [
  "chunked",
  "Chunked",
  "CHUNKED",
  " chunked",
  "chunked ",
  "chunked, chunked",
  "gzip, chunked",
  "chunked, gzip",
  "identity",
  "gzip",
  "chunked;q=1",
  "xchunked",
  "chunked\xa0",
  "",
];

function framing(rng: Prng, tags: string[], minor: number, clean: boolean): Framing {
  const roll = rng.int(clean ? 75 : 100);
  if (roll < 30) return { kind: "none" };
  if (roll < 55 || (clean && minor === 0)) {
    const body = randomBody(rng, 60);
    return { kind: "cl", header: [`Content-Length: ${body.length}`], body };
  }
  if (roll < 75) {
    const bad = !clean && rng.chance(0.6);
    if (bad) tags.push("chunked-mutated");
    if (minor === 0) tags.push("chunked-http10");
    return { kind: "chunked", header: ["Transfer-Encoding: chunked"], body: chunkedBody(rng, tags, bad) };
  }
  if (roll < 87) {
    const body = randomBody(rng, 30);
    const variant = rng.int(CL_VARIANTS.length);
    tags.push(`cl-variant:${variant}`);
    return { kind: "cl", header: CL_VARIANTS[variant]!(body.length), body };
  }
  const te = rng.pick(TE_VARIANTS);
  tags.push(`te:${JSON.stringify(te)}`);
  const header = [`Transfer-Encoding: ${te}`];
  if (rng.chance(0.3)) {
    header.push(rng.chance(0.5) ? "Content-Length: 5" : "Transfer-Encoding: chunked");
    tags.push("te-plus");
  }
  if (rng.chance(0.5)) header.reverse();
  return { kind: "chunked", header, body: chunkedBody(rng, tags, rng.chance(0.3)) };
}

/**
 * One request. `clean`: well formed (the odd but legal variants included); otherwise each part may
 * be spoilt, at the rates below.
 */
function request(rng: Prng, tags: string[], clean: boolean): Buffer {
  const m = clean ? 0 : 1;
  let method = rng.pick(METHODS);
  let target = rng.pick(TARGETS);
  let version = rng.pick(VERSIONS);
  let lineEnd = "\r\n";
  if (rng.chance(0.1 * m)) {
    method = rng.pick(ODD_METHODS);
    tags.push(`method:${JSON.stringify(method)}`);
  }
  if (method === "OPTIONS" && rng.chance(0.5)) target = "*";
  if (rng.chance(0.08 * m)) {
    target = rng.pick(ODD_TARGETS);
    tags.push(`target:${JSON.stringify(target)}`);
  }
  if (rng.chance(0.06 * m)) {
    version = rng.pick(ODD_VERSIONS);
    tags.push(`version:${JSON.stringify(version)}`);
  }
  let sep1 = " ";
  let sep2 = " ";
  const separatorRoll = rng.next();
  if (separatorRoll < 0.04 * m) {
    sep1 = rng.pick(["  ", "\t", ""]);
    tags.push("request-line-separator");
  } else if (separatorRoll < 0.08 * m) {
    sep2 = rng.pick(["  ", "\t"]);
    tags.push("request-line-separator");
  }
  if (rng.chance(0.03 * m)) {
    lineEnd = rng.pick(["\n", "\r", "\r\r\n"]);
    tags.push("request-line-end");
  }
  const minor = version === "HTTP/1.0" ? 0 : 1;
  const lines: string[] = [];
  if (minor === 1 || rng.chance(0.5)) lines.push("Host: shop.example");
  if (rng.chance(0.03 * m)) {
    lines.length = 0;
    tags.push("no-host");
  }
  for (let k = rng.int(4); k > 0; k--) {
    const [name, value] = rng.pick(HEADERS);
    lines.push(`${name}: ${value}`);
  }
  if (rng.chance(0.2 * m)) {
    const odd = rng.pick(ODD_HEADER_LINES);
    lines.splice(rng.int(lines.length + 1), 0, odd);
    tags.push(`header:${JSON.stringify(odd)}`);
  }
  if (rng.chance(0.01 * m)) {
    lines.push(`X-Long: ${"v".repeat(rng.pick([8_000, 20_000, 70_000]))}`);
    tags.push("long-line");
  }
  const f = framing(rng, tags, minor, clean);
  if (f.kind !== "none") lines.splice(rng.int(lines.length + 1), 0, ...f.header);
  let headEnd = "\r\n";
  let lineSep = "\r\n";
  if (rng.chance(0.03 * m)) {
    lineSep = rng.pick(["\n", "\r\n\r\n"]);
    tags.push("header-line-end");
  } else if (rng.chance(0.02 * m)) {
    headEnd = "\n";
    tags.push("head-end-bare-lf");
  }
  const head = `${method}${sep1}${target}${sep2}${version}${lineEnd}${lines.map((l) => l + lineSep).join("")}${headEnd}`;
  const parts: Buffer[] = [Buffer.from(head, "latin1")];
  if (f.kind !== "none") parts.push(f.body);
  return Buffer.concat(parts);
}

/** Bytes a random byte-level mutation writes: the ones parsers disagree on most. */
const NOISE = [0x00, 0x0d, 0x0a, 0x20, 0x09, 0x7f, 0xff, 0x3a, 0x3b, 0x2c, 0x22, 0x30, 0x41];

/** Case `index` of the stream seeded by `seed`. */
export function generateCase(seed: number, index: number): HttpCase {
  const rng = new Prng((seed * 0x9e3779b1) ^ (index * 0x85ebca6b) ^ 0x5bd1e995);
  const tags: string[] = [];
  const pieces: Buffer[] = [];
  const count = rng.chance(0.25) ? 2 + rng.int(3) : 1;
  if (count > 1) tags.push(`pipelined:${count}`);
  if (rng.chance(0.03)) {
    // Legal: RFC 9112 2.2 lets a server skip empty lines before a request line.
    pieces.push(Buffer.from("\r\n"));
    tags.push("leading-crlf");
  }
  // A third of the cases are clean throughout: the forwarded path needs as much coverage as the
  // refusals.
  const clean = rng.chance(0.35);
  for (let i = 0; i < count; i++) pieces.push(request(rng, tags, clean));
  let bytes: Buffer = Buffer.concat(pieces);
  if (!clean && rng.chance(0.1) && bytes.length > 0) {
    // A byte-level mutation: replace, insert or delete one byte somewhere.
    const at = rng.int(bytes.length);
    const op = rng.int(3);
    const b = rng.pick(NOISE);
    if (op === 0) bytes[at] = b;
    else if (op === 1) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([b]), bytes.subarray(at)]);
    else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    tags.push(`byte-${["replace", "insert", "delete"][op]}@${at}:${b.toString(16)}`);
  }
  if (clean) tags.unshift("clean");
  return { seed, index, tags, bytes: Buffer.concat([bytes, Buffer.from(SENTINEL, "latin1")]) };
}

const STATUS_LINES = [
  "HTTP/1.1 200 OK",
  "HTTP/1.1 404 Not Found",
  "HTTP/1.0 200 OK",
  "HTTP/1.1 200 D\xe9j\xe0 vu",
  "HTTP/1.1 500 ",
];
const ODD_STATUS_LINES = [
  "HTTP/1.1 200",
  "HTTP/1.1 99 X",
  "HTTP/1.1 2000 X",
  "HTTP/1.1  200 OK",
  "HTTP/1.1 200 O\x00K",
  "http/1.1 200 OK",
  "HTTP/1.2 200 OK",
  "HTTP/1.1 20x OK",
];

/**
 * A member's response to a GET (`bytes`, one message, then the member closes): status line,
 * header oddities and every framing, the chunked bodies spoilt as for requests. For the response
 * side of the same differential.
 */
export function generateResponse(seed: number, index: number): HttpCase {
  const rng = new Prng((seed * 0x27d4eb2f) ^ (index * 0x165667b1) ^ 0x1b873593);
  const tags: string[] = [];
  const clean = rng.chance(0.35);
  const m = clean ? 0 : 1;
  let status = rng.pick(STATUS_LINES);
  if (rng.chance(0.1 * m)) {
    status = rng.pick(ODD_STATUS_LINES);
    tags.push(`status:${JSON.stringify(status)}`);
  }
  const lines: string[] = ["Content-Type: text/plain"];
  if (rng.chance(0.2 * m)) {
    const odd = rng.pick(ODD_HEADER_LINES);
    lines.push(odd);
    tags.push(`header:${JSON.stringify(odd)}`);
  }
  let body: Buffer;
  const roll = rng.int(clean ? 3 : 5);
  if (roll === 0) {
    body = randomBody(rng, 40);
    lines.push(`Content-Length: ${body.length}`);
  } else if (roll === 1) {
    const bad = !clean && rng.chance(0.6);
    if (bad) tags.push("chunked-mutated");
    lines.push("Transfer-Encoding: chunked");
    body = chunkedBody(rng, tags, bad);
  } else if (roll === 2) {
    body = randomBody(rng, 40); // until close
    tags.push("until-close");
  } else if (roll === 3) {
    body = randomBody(rng, 30);
    const variant = rng.int(CL_VARIANTS.length);
    tags.push(`cl-variant:${variant}`);
    lines.push(...CL_VARIANTS[variant]!(body.length));
  } else {
    const te = rng.pick(TE_VARIANTS);
    tags.push(`te:${JSON.stringify(te)}`);
    lines.push(`Transfer-Encoding: ${te}`);
    if (rng.chance(0.3)) lines.push("Content-Length: 5");
    body = chunkedBody(rng, tags, rng.chance(0.3));
  }
  if (clean) tags.unshift("clean");
  const head = `${status}\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;
  return { seed, index, tags, bytes: Buffer.concat([Buffer.from(head, "latin1"), body]) };
}
