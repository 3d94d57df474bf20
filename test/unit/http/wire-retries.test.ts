import { afterEach, describe, expect, it } from "vitest";
import { freeTcpPort } from "../../support/ports.js";
import { cleanupWire, RawClient, RawMember, sleep, startWireProxy } from "./wire-support.js";

afterEach(cleanupWire);

describe("retries on another member (two members on 127.0.1.x)", () => {
  it("sends a chunked body whole to the second member when the first refuses the connection", async () => {
    const dead = { address: "127.0.1.2", port: await freeTcpPort("127.0.1.2") };
    const alive = await RawMember.start("127.0.1.3");
    // Round robin starts with the first member of the pool.
    const proxy = await startWireProxy([dead, alive]);
    const body = "4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: 1\r\n\r\n";
    const client = await RawClient.connect(proxy.port);
    client.write("POST /moved HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n");
    await sleep(10);
    client.write(body);
    const answer = await client.response("POST");
    expect(answer.status).toBe(200);
    expect(alive.requests).toHaveLength(1);
    expect(alive.requests[0]!.body.toString("latin1")).toBe(body);
    expect(alive.allReceived().split("POST /moved").length).toBe(2); // sent once
    expect(proxy.counters.connectFailures).toBe(1);
    expect(proxy.counters.retries).toBe(1);
  });

  it("retries a GET whose member closed the connection without answering", async () => {
    const first = await RawMember.start("127.0.1.2");
    const second = await RawMember.start("127.0.1.3");
    first.onRequest = (_req, conn) => conn.socket.destroy();
    const proxy = await startWireProxy([first, second]);
    const client = await RawClient.connect(proxy.port);
    client.write("GET /again HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(200);
    expect(first.requests).toHaveLength(1);
    expect(second.requests.map((r) => r.target)).toEqual(["/again"]);
    expect(proxy.counters.resets).toBe(1);
    expect(proxy.counters.retries).toBe(1);
  });

  it("does not retry a POST with a body that was sent: 502, the other member sees nothing", async () => {
    const first = await RawMember.start("127.0.1.2");
    const second = await RawMember.start("127.0.1.3");
    first.onRequest = (_req, conn) => conn.socket.destroy();
    const proxy = await startWireProxy([first, second]);
    const client = await RawClient.connect(proxy.port);
    client.write("POST /once HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nbody");
    const answer = await client.response("POST");
    expect(answer.status).toBe(502);
    expect(first.requests[0]!.body.toString()).toBe("body");
    expect(second.accepted).toBe(0);
    expect(proxy.counters.badGateway).toBe(1);
  });

  it("answers 502 when the only member closes after half a response head", async () => {
    const member = await RawMember.start("127.0.1.2");
    member.onRequest = (_req, conn) => conn.socket.end("HTTP/1.1 200 OK\r\nContent-Le");
    const proxy = await startWireProxy([member]);
    const client = await RawClient.connect(proxy.port);
    client.write("GET /half HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const answer = await client.response();
    expect(answer.status).toBe(502);
    expect(client.text()).not.toContain("Content-Le\r\n");
    expect(proxy.counters.badGateway).toBe(1);
  });
});
