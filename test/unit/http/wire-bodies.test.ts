import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupWire,
  type MemberConnection,
  memberAndProxy,
  okResponse,
  RawClient,
  sleep,
} from "./wire-support.js";

afterEach(cleanupWire);

const get = (path: string, extra = ""): string =>
  `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${extra}\r\n`;

/** Writes `pieces` to a member connection one by one, 10 ms apart. */
function writeSlowly(conn: MemberConnection, pieces: readonly string[]): void {
  pieces.forEach((piece, i) => {
    setTimeout(() => {
      if (!conn.socket.destroyed) conn.socket.write(piece, "latin1");
    }, i * 10);
  });
}

describe("chunked responses", () => {
  const chunkedBody = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Sum: 42\r\nX-Other: b\r\n\r\n";

  for (const split of [false, true]) {
    it(`reach an HTTP/1.1 client in their chunk framing, trailers included (${split ? "split" : "one write"})`, async () => {
      const { member, proxy } = await memberAndProxy();
      member.onRequest = (req, conn) => {
        if (req.target !== "/chunked") {
          conn.socket.write(okResponse("second"));
          return;
        }
        const whole = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n${chunkedBody}`;
        if (!split) conn.socket.write(whole);
        else {
          const at = whole.indexOf("\r\n\r\n") + 4;
          const cuts = [0, at + 3, at + 15, at + 27, at + 36, whole.length - 1, whole.length];
          writeSlowly(
            conn,
            cuts.slice(1).map((end, i) => whole.slice(cuts[i], end)),
          );
        }
      };
      const client = await RawClient.connect(proxy.port);
      client.write(get("/chunked"));
      const answer = await client.response();
      expect(answer.status).toBe(200);
      expect(answer.headerAll("transfer-encoding")).toEqual(["chunked"]);
      expect(answer.header("content-length")).toBeUndefined();
      expect(answer.body.toString("latin1")).toBe(chunkedBody);
      expect(answer.data.toString()).toBe("Wikipedia");
      // The connection carries the next request.
      client.write(get("/next"));
      const next = await client.response();
      expect(next.data.toString()).toBe("second");
      expect(client.unread()).toBe("");
      expect(client.ended).toBe(false);
      expect(member.accepted).toBe(1);
    });
  }
});

describe("transfer codings other than chunked", () => {
  // The body is relayed byte for byte, so the codings it carries must be announced to the client:
  // dropping `gzip` hands the client gzip bytes it takes for the data itself.
  it("keeps the codings before chunked in the Transfer-Encoding relayed to the client", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\n\x1f\x8b\x08\r\n0\r\n\r\n",
        "latin1",
      );
    const client = await RawClient.connect(proxy.port);
    client.write(get("/gz"));
    const answer = await client.response();
    expect(answer.body.toString("latin1")).toBe("3\r\n\x1f\x8b\x08\r\n0\r\n\r\n");
    expect(answer.headerAll("transfer-encoding").join(", ").replace(/\s+/g, "").toLowerCase()).toBe(
      "gzip,chunked",
    );
  });
});

describe("request bodies", () => {
  it("forwards a chunked body with an extension and a trailer unchanged, without Content-Length", async () => {
    const { member, proxy } = await memberAndProxy();
    const body = "3;name=val\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /up HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    const answer = await client.response("POST");
    expect(answer.status).toBe(200);
    const seen = member.requests[0]!;
    expect(seen.body.toString("latin1")).toBe(body);
    expect(seen.headerAll("transfer-encoding")).toEqual(["chunked"]);
    expect(seen.header("content-length")).toBeUndefined();
  });

  it("forwards a chunked body that arrives in small pieces, then serves the next request", async () => {
    const { member, proxy } = await memberAndProxy();
    const body = "5;a=b\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n";
    const client = await RawClient.connect(proxy.port);
    client.write("POST /up HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (let i = 0; i < body.length; i += 4) {
      client.write(body.slice(i, i + 4));
      await sleep(2);
    }
    expect((await client.response("POST")).status).toBe(200);
    expect(member.requests[0]!.body.toString("latin1")).toBe(body);
    client.write(get("/after"));
    expect((await client.response()).data.toString()).toBe("GET /after");
  });

  it("forwards a Content-Length body split across several client writes whole", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write("POST /form HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 26\r\n\r\n");
    for (const piece of ["abcdefg", "hijklmnopq", "rs", "tuvwxyz"]) {
      await sleep(20);
      client.write(piece);
    }
    const answer = await client.response("POST");
    expect(answer.status).toBe(200);
    const seen = member.requests[0]!;
    expect(seen.body.toString()).toBe("abcdefghijklmnopqrstuvwxyz");
    expect(seen.header("content-length")).toBe("26");
    expect(seen.header("transfer-encoding")).toBeUndefined();
    expect(member.allReceived().endsWith("\r\n\r\nabcdefghijklmnopqrstuvwxyz")).toBe(true);
  });

  it("carries a 1 MiB request body and a 2 MiB response body intact", async () => {
    const { member, proxy } = await memberAndProxy();
    const upload = Buffer.alloc(1 << 20, "u");
    const download = Buffer.alloc(2 << 20);
    for (let i = 0; i < download.length; i++) download[i] = i % 251;
    member.onRequest = (req, conn) => {
      conn.socket.write(
        `HTTP/1.1 200 OK\r\nContent-Length: ${download.length}\r\nX-Got: ${req.body.length}\r\n\r\n`,
      );
      conn.socket.write(download);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(`PUT /big HTTP/1.1\r\nHost: shop.example\r\nContent-Length: ${upload.length}\r\n\r\n`);
    client.write(upload);
    const answer = await client.response("PUT", 10_000);
    expect(answer.header("x-got")).toBe(String(upload.length));
    expect(answer.data.equals(download)).toBe(true);
    expect(member.requests[0]!.body.equals(upload)).toBe(true);
  }, 15_000);
});

describe("Expect: 100-continue", () => {
  it("relays the member's 100 Continue before the final response, and forwards the Expect header", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onHead = (req, conn) => {
      if (req.header("expect") === "100-continue") conn.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    };
    member.onRequest = (req, conn) => conn.socket.write(okResponse(`got ${req.body.toString()}`));
    const client = await RawClient.connect(proxy.port);
    client.write(
      "POST /expect HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    // The client waits for the 100 before sending its body, as curl does.
    const interim = await client.response("POST");
    expect(interim.status).toBe(100);
    expect(interim.head).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    expect(member.requests[0]!.header("expect")).toBe("100-continue");
    expect(member.requests[0]!.complete).toBe(false);
    client.write("hello");
    const final = await client.response("POST");
    expect(final.status).toBe(200);
    expect(final.data.toString()).toBe("got hello");
    expect(client.unread()).toBe("");
  });
});

describe("response heads in pieces", () => {
  it("reads a response head that arrives a few bytes at a time", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => {
      const whole = "HTTP/1.1 200 OK\r\nX-Piece: yes\r\nContent-Length: 6\r\n\r\npieces";
      const pieces: string[] = [];
      for (let i = 0; i < whole.length; i += 7) pieces.push(whole.slice(i, i + 7));
      writeSlowly(conn, pieces);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/pieces"));
    const answer = await client.response();
    expect(answer.header("x-piece")).toBe("yes");
    expect(answer.data.toString()).toBe("pieces");
    client.write(get("/again"));
    expect((await client.response()).status).toBe(200);
    expect(member.accepted).toBe(1);
  });

  it("relays 100 Continue and the final response that come in one write, and 103 Early Hints", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone",
      );
    const client = await RawClient.connect(proxy.port);
    client.write(
      "POST /x HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    );
    expect((await client.response("POST")).status).toBe(100);
    const hints = await client.response("POST");
    expect(hints.status).toBe(103);
    expect(hints.header("link")).toBe("</s.css>; rel=preload");
    const final = await client.response("POST");
    expect([final.status, final.data.toString()]).toEqual([200, "done"]);
    expect(client.unread()).toBe("");
  });

  it("does not relay interim responses to an HTTP/1.0 client", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) =>
      conn.socket.write("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + okResponse("final"));
    const client = await RawClient.connect(proxy.port);
    client.write("GET / HTTP/1.0\r\nHost: shop.example\r\n\r\n");
    await client.waitEnded();
    expect(client.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(client.text()).not.toContain("103");
  });
});

describe("responses without a body", () => {
  const cases: [string, string, string][] = [
    ["HEAD with Content-Length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Head: 1\r\n\r\n"],
    ["204", "DELETE", "HTTP/1.1 204 No Content\r\nX-Head: 1\r\n\r\n"],
    [
      "304 with Content-Length",
      "GET",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nX-Head: 1\r\n\r\n",
    ],
  ];
  for (const [name, method, head] of cases) {
    it(`${name}: relays the head alone and keeps the connection usable`, async () => {
      const { member, proxy } = await memberAndProxy();
      member.onRequest = (req, conn) => {
        if (req.target === "/first") conn.socket.write(head);
        else conn.socket.write(okResponse("next"));
      };
      const client = await RawClient.connect(proxy.port);
      client.write(`${method} /first HTTP/1.1\r\nHost: shop.example\r\n\r\n`);
      const answer = await client.response(method);
      const status = Number(head.slice(9, 12));
      expect(answer.status).toBe(status);
      expect(answer.header("x-head")).toBe("1");
      if (head.includes("Content-Length")) expect(answer.header("content-length")).toBe("1234");
      await sleep(50);
      expect(client.unread()).toBe("");
      client.write(get("/second"));
      const next = await client.response();
      expect(next.status).toBe(200);
      expect(next.data.toString()).toBe("next");
      expect(client.unread()).toBe("");
      expect(member.requests.map((r) => r.target)).toEqual(["/first", "/second"]);
      // The member connection was reused: the bodiless response ended where it should.
      expect(member.accepted).toBe(1);
    });
  }
});

describe("a member that sends a body where none may come", () => {
  it("does not relay a body sent to HEAD, and does not reuse that member connection", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (req, conn) =>
      conn.socket.write(req.method === "HEAD" ? okResponse("stray") : okResponse(`on ${conn.id}`));
    const client = await RawClient.connect(proxy.port);
    client.write("HEAD / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const head = await client.response("HEAD");
    expect(head.header("content-length")).toBe("5");
    client.write(get("/after"));
    const next = await client.response();
    expect(next.data.toString()).toBe("on 2");
    expect(client.text()).not.toContain("stray");
    expect(member.accepted).toBe(2);
  });
});

describe("a response delimited by the member's close", () => {
  it("reaches the client whole with Connection: close, then the client connection closes", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (_req, conn) => {
      conn.socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ");
      setTimeout(() => conn.socket.write("part two, "), 20);
      setTimeout(() => conn.socket.end("the end"), 40);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/stream"));
    await client.waitEnded();
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.header("connection")).toBe("close");
    expect(answer.header("content-length")).toBeUndefined();
    expect(answer.header("transfer-encoding")).toBeUndefined();
    expect(answer.data.toString()).toBe("part one, part two, the end");
  });
});

describe("an early answer before the request body is read", () => {
  it("relays the member's 413, then closes the client connection", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onHead = (_req, conn) => {
      conn.socket.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large");
      conn.socket.pause(); // reads no more of the body
    };
    const client = await RawClient.connect(proxy.port);
    client.write("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 50000000\r\n\r\n");
    const piece = Buffer.alloc(64 * 1024, "b");
    // Keep sending for a while, as a client streaming a large upload does.
    const sender = setInterval(() => {
      if (!client.ended) client.write(piece);
    }, 5);
    try {
      const answer = await client.response("POST");
      expect(answer.status).toBe(413);
      expect(answer.data.toString()).toBe("too large");
      await client.waitEnded();
    } finally {
      clearInterval(sender);
    }
    expect(member.requests).toHaveLength(1);
  });

  // RFC 9110 10.1.1: a server that answers before reading the whole request content SHOULD say
  // whether it will close the connection. The proxy does close it here, so it should say so.
  it("announces Connection: close on a final response that came before the request body", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onHead = (_req, conn) =>
      conn.socket.write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope");
    const client = await RawClient.connect(proxy.port);
    client.write(
      "PUT /file HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n",
    );
    const answer = await client.response("PUT");
    expect(answer.status).toBe(401);
    await client.waitEnded();
    expect(answer.header("connection")).toBe("close");
  });

  it("releases the client connection once the client goes, even when its upload was paused", async () => {
    // The member reads nothing and answers late: by then the proxy has paused the client (request
    // body back-pressure). After the answer the proxy ends the connection; when the client then
    // goes away the proxy must notice, not hold the socket until timeouts.idle (60 s here).
    const { member, proxy } = await memberAndProxy();
    member.onHead = (_req, conn) => {
      conn.socket.pause();
      setTimeout(
        () => conn.socket.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large"),
        300,
      );
    };
    const client = await RawClient.connect(proxy.port);
    client.write("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 50000000\r\n\r\n");
    client.write(Buffer.alloc(16 << 20, "b"));
    const answer = await client.response("POST");
    expect(answer.status).toBe(413);
    await client.waitEnded();
    client.destroy();
    await expect.poll(() => proxy.openCount(), { timeout: 2_000, interval: 20 }).toBe(0);
  });
});
