import { afterEach, describe, expect, it } from "vitest";
import { cleanupWire, memberAndProxy, okResponse, RawClient, sleep } from "./wire-support.js";

afterEach(cleanupWire);

const get = (path: string, extra = ""): string =>
  `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${extra}\r\n`;

describe("pipelined requests", () => {
  it("answers two requests sent in one write, in order, each forwarded once", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(get("/one") + get("/two"));
    const first = await client.response();
    const second = await client.response();
    expect([first.status, first.data.toString()]).toEqual([200, "GET /one"]);
    expect([second.status, second.data.toString()]).toEqual([200, "GET /two"]);
    expect(member.requests.map((r) => r.target)).toEqual(["/one", "/two"]);
    expect(client.unread()).toBe("");
    expect(client.ended).toBe(false);
  });

  it("answers three requests in one write (a POST body in the middle) in order", async () => {
    const { member, proxy } = await memberAndProxy();
    // A member slow on the first request: the later ones must still wait their turn.
    member.onRequest = (req, conn) => {
      const answer = okResponse(`${req.method} ${req.target} ${req.body.toString()}`);
      if (req.target === "/1") setTimeout(() => conn.socket.write(answer), 100);
      else conn.socket.write(answer);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(
      get("/1") +
        "POST /2 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello" +
        get("/3", "Connection: close\r\n"),
    );
    const bodies: string[] = [];
    for (const method of ["GET", "POST", "GET"]) bodies.push((await client.response(method)).data.toString());
    expect(bodies).toEqual(["GET /1 ", "POST /2 hello", "GET /3 "]);
    expect(member.requests.map((r) => `${r.method} ${r.target}`)).toEqual(["GET /1", "POST /2", "GET /3"]);
    expect(member.requests[1]!.body.toString()).toBe("hello");
    await client.waitEnded();
    expect(client.unread()).toBe("");
  });

  it("answers pipelined requests that arrive split at odd places", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    const bytes = get("/a") + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" + get("/c");
    const cuts = [0, 5, 30, 47, 70, bytes.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      client.write(bytes.slice(cuts[i], cuts[i + 1]));
      await sleep(10);
    }
    const got = [await client.response(), await client.response("POST"), await client.response()];
    expect(got.map((r) => r.data.toString())).toEqual(["GET /a", "POST /b", "GET /c"]);
    expect(member.requests.map((r) => r.body.toString())).toEqual(["", "xyz", ""]);
  });
});

describe("Connection: close from the client", () => {
  it("answers with Connection: close and closes the connection after the response", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(get("/bye", "Connection: close\r\n"));
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(answer.data.toString()).toBe("GET /bye");
    expect(answer.header("connection")).toBe("close");
    await client.waitEnded();
    expect(client.unread()).toBe("");
    // The member hop is the proxy's own: the client's Connection header is not forwarded.
    expect(member.requests[0]!.header("connection")).toBeUndefined();
  });

  it("ignores requests pipelined after a Connection: close request", async () => {
    const { member, proxy } = await memberAndProxy();
    const client = await RawClient.connect(proxy.port);
    client.write(get("/last", "Connection: close\r\n") + get("/never"));
    expect((await client.response()).data.toString()).toBe("GET /last");
    await client.waitEnded();
    expect(client.unread()).toBe("");
    expect(member.requests.map((r) => r.target)).toEqual(["/last"]);
  });
});

describe("a client that half-closes after its requests", () => {
  it("still gets the answers to every request sent before its FIN, then a FIN", async () => {
    const { member, proxy } = await memberAndProxy();
    member.onRequest = (req, conn) => {
      // Answer late, after the FIN has reached the proxy.
      setTimeout(() => conn.socket.write(okResponse(`${req.method} ${req.target}`)), 100);
    };
    const client = await RawClient.connect(proxy.port);
    client.write(get("/a") + get("/b"));
    client.socket.end();
    const first = await client.response();
    const second = await client.response();
    expect([first.data.toString(), second.data.toString()]).toEqual(["GET /a", "GET /b"]);
    await expect.poll(() => client.ended, { timeout: 3_000 }).toBe(true);
  });
});

describe("a pipelined burst larger than the pipelining bound (64 KiB)", () => {
  it("is read in pauses and answered whole, in order", async () => {
    const { member, proxy } = await memberAndProxy();
    const count = 3_000; // about 100 KiB of requests in one write
    let burst = "";
    for (let i = 0; i < count; i++) burst += get(`/${i}`);
    expect(burst.length).toBeGreaterThan(65_536);
    const client = await RawClient.connect(proxy.port);
    client.write(burst);
    const targets: string[] = [];
    for (let i = 0; i < count; i++) targets.push((await client.response("GET", 10_000)).data.toString());
    expect(targets).toEqual(Array.from({ length: count }, (_, i) => `GET /${i}`));
    expect(member.requests.length).toBe(count);
  }, 30_000);
});
