/**
 * An APP_COOKIE learnt from a member's `Set-Cookie` follows the cookie's `Expires` as read on the
 * data path's injected clock, not the machine's: the same header binds while the clock is before
 * its date and removes the binding once the clock is past it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { persistence } from "./harness.js";
import { cleanupWire, RawClient, RawMember, startWireProxy } from "./wire-support.js";

afterEach(async () => {
  await cleanupWire();
});

/** 2025-01-01T00:00:00Z: in the future of the wire proxy's clock (2023-11), in the past of this machine's. */
const EXPIRES = "Wed, 01 Jan 2025 00:00:00 GMT";

describe("APP_COOKIE and the injected clock", () => {
  it("a Set-Cookie's Expires is compared with the data path's clock", async () => {
    const member = await RawMember.start("127.0.1.2");
    member.onRequest = (_req, conn) =>
      conn.socket.write(
        `HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=s1; Expires=${EXPIRES}\r\nContent-Length: 2\r\n\r\nok`,
      );
    const proxy = await startWireProxy(
      [member],
      {},
      {
        // Idle lapse far away (ten years): only the cookie's own date decides here.
        sessionPersistence: persistence({
          type: "APP_COOKIE",
          cookieName: "JSESSIONID",
          persistenceTimeoutMs: 10 * 365 * 86_400_000,
        }),
      },
    );
    expect(proxy.clock.now()).toBeLessThan(Date.parse(EXPIRES));
    const table = () => proxy.holder.current.pools.get("web")!.bindings!;

    const client = await RawClient.connect(proxy.port);
    client.write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    expect((await client.response()).status).toBe(200);
    // Not yet expired on the injected clock: learnt.
    expect(table().peek("s1")?.member).toBe(proxy.holder.current.pools.get("web")!.members[0]!.id);

    // The clock passes the cookie's date: the same header now deletes the session.
    proxy.clock.set(Date.parse(EXPIRES) + 1000);
    expect(table().peek("s1")).toMatchObject({ expired: false });
    client.write("GET /b HTTP/1.1\r\nHost: h\r\nCookie: JSESSIONID=s1\r\n\r\n");
    expect((await client.response()).status).toBe(200);
    expect(table().peek("s1")).toBeUndefined();
  });
});
