import { afterEach, describe, expect, it, vi } from "vitest";
import { ChunkedDecoder } from "../../../src/data/http1/chunked-decoder.js";
import { Exchange } from "../../../src/data/proxy/http-forward.js";
import { cleanupWire, memberAndProxy, RawClient } from "./wire-support.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanupWire();
});

describe("fault containment on the HTTP path", () => {
  it("treats a bug in the body decoder as a fault (logged, counted), not as the client's 400", async () => {
    const { proxy } = await memberAndProxy();
    vi.spyOn(ChunkedDecoder.prototype, "feed").mockImplementationOnce(() => {
      throw new TypeError("injected decoder bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    await hit.waitEnded();
    expect(hit.text()).not.toContain("400");
    expect(proxy.counters.malformed).toBe(0);
    expect(proxy.faults.bySite.http_client).toBe(1);

    const next = await RawClient.connect(proxy.port);
    next.write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await next.response()).status).toBe(200);
  });

  it("counts a bug on the member side under http_member", async () => {
    const { proxy } = await memberAndProxy();
    vi.spyOn(Exchange.prototype, "onUpstreamData").mockImplementationOnce(() => {
      throw new Error("injected bug");
    });
    const hit = await RawClient.connect(proxy.port);
    hit.write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    await hit.waitEnded();
    expect(proxy.faults.bySite.http_member).toBe(1);
  });
});
