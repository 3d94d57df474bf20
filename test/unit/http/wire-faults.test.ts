import { afterEach, describe, expect, it, vi } from "vitest";
import { Exchange } from "../../../src/data/proxy/http-forward.js";
import { cleanupWire, memberAndProxy, RawClient } from "./wire-support.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanupWire();
});

describe("a bug on the forwarding path", () => {
  it("ends the one connection it hit; the listener serves the next client", async () => {
    const { member, proxy } = await memberAndProxy();
    vi.spyOn(Exchange.prototype, "feedBody").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
    await expect.poll(() => hit.closed, { timeout: 3_000 }).toBe(true);

    const next = await RawClient.connect(proxy.port);
    next.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    const response = await next.response();
    expect([response.status, response.data.toString()]).toEqual([200, "GET /b"]);
    expect(member.requests.map((r) => r.target)).toEqual(["/b"]);
  });

  it("in a member's answer ends that request only", async () => {
    const { proxy } = await memberAndProxy();
    vi.spyOn(Exchange.prototype, "onUpstreamData").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    await expect.poll(() => hit.closed, { timeout: 3_000 }).toBe(true);

    const next = await RawClient.connect(proxy.port);
    next.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await next.response()).status).toBe(200);
  });
});
