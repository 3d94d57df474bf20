/**
 * Relays an HTTP upgrade (WebSocket) to a member (SPEC 6.6): placed and sticky like any request,
 * the member's `101` goes back with the inserted cookie when one is due, then bytes flow both
 * ways until either side closes. A member that answers without upgrading has its response relayed
 * and the connection closed.
 */

import * as http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { clientIpKey } from "../../core/member.js";
import type { ListenerModel } from "../../core/model.js";
import { clientAddressOf } from "../listener/client-address.js";
import type { Snapshot } from "../snapshot.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { type HttpEnv, routeAndPlace } from "./http-forward.js";
import { requestHeadersForMember, responseHeadersForClient } from "./http-headers.js";
import { rawHead, writeRawResponse } from "./http-local.js";

export function forwardUpgrade(
  req: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  listener: ListenerModel,
  snapshot: Snapshot,
  env: HttpEnv,
): void {
  const { counters, ctx } = env;
  client.on("error", () => {});
  const route = routeAndPlace(req, listener, snapshot, env);
  if (!route.ok) {
    counters.countResponse(route.pool, "", route.status);
    writeRawResponse(client, route.status);
    return;
  }
  const { pool, sticky } = route;
  const clientIp = clientIpKey(clientAddressOf(req.socket));
  const headers = requestHeadersForMember(req.rawHeaders, {
    clientIp,
    proto: env.https ? "https" : "http",
    port: env.port,
    upgrade: req.headers.upgrade ?? "websocket",
    chunked: false,
  });
  const timeouts = listener.timeouts;

  const attempt = (target: MemberRuntime, retried: boolean): void => {
    const finish = target.claim(client);
    let connected = false;
    let settled = false;
    // A fresh connection: an upgraded socket leaves the keep-alive pool for good anyway.
    const up = http.request({
      host: target.address,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      setHost: false,
      agent: false,
      timeout: timeouts.connectMs,
    });
    up.once("socket", (socket: Socket) => {
      socket.once("connect", () => {
        connected = true;
        ctx.outcomes.connectSucceeded(target);
        up.setTimeout(timeouts.memberMs);
      });
    });
    up.on("timeout", () => {
      if (settled) return;
      settled = true;
      up.destroy();
      finish();
      if (connected) {
        counters.memberTimeouts++;
        counters.countResponse(pool.name, target.endpoint, 504);
        writeRawResponse(client, 504);
      } else {
        connectFailed(target, retried, "ETIMEDOUT");
      }
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      finish();
      if (connected) {
        counters.resets++;
        ctx.outcomes.connectFailed(target, err.code ?? err.message);
        counters.badGateway++;
        counters.countResponse(pool.name, "", 502);
        writeRawResponse(client, 502);
        return;
      }
      connectFailed(target, retried, err.code ?? err.message);
    });
    up.once("upgrade", (upRes, upSocket, upHead) => {
      settled = true;
      upSocket.setTimeout(0);
      const out = responseHeadersForClient(upRes.rawHeaders, true);
      for (const cookie of sticky.answered(target, upRes.rawHeaders)) out.push("Set-Cookie", cookie);
      counters.upgrades++;
      counters.countResponse(pool.name, target.endpoint, 101);
      if (!client.writable) {
        upSocket.destroy();
        finish();
        return;
      }
      client.write(rawHead(101, upRes.statusMessage, out));
      if (upHead.length > 0) client.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on("error", () => {});
      const idle = (): void => {
        client.destroy();
        upSocket.destroy();
      };
      upSocket.setTimeout(timeouts.idleMs, idle);
      upSocket.pipe(client);
      client.pipe(upSocket);
      const close = (): void => {
        client.destroy();
        upSocket.destroy();
        finish();
      };
      upSocket.once("close", close);
      client.once("close", close);
    });
    up.once("response", (upRes) => {
      // The member refused the upgrade: relay its answer, close-delimited, then close.
      settled = true;
      const status = upRes.statusCode ?? 502;
      const out = responseHeadersForClient(upRes.rawHeaders).filter((_, i, a) => {
        const name = (i % 2 === 0 ? a[i] : a[i - 1])!.toLowerCase();
        return name !== "content-length";
      });
      for (const cookie of sticky.answered(target, upRes.rawHeaders)) out.push("Set-Cookie", cookie);
      out.push("Connection", "close");
      counters.countResponse(pool.name, target.endpoint, status);
      client.write(rawHead(status, upRes.statusMessage, out));
      upRes.pipe(client);
      upRes.once("end", finish);
      upRes.once("error", () => {
        finish();
        client.destroy();
      });
    });
    up.end();
  };

  const connectFailed = (target: MemberRuntime, retried: boolean, code: string): void => {
    counters.connectFailures++;
    ctx.outcomes.connectFailed(target, code);
    const next = retried ? undefined : pool.pick(clientIp, target);
    if (next === undefined) {
      counters.badGateway++;
      counters.countResponse(pool.name, "", 502);
      writeRawResponse(client, 502);
      return;
    }
    counters.retries++;
    sticky.retried(next);
    attempt(next, true);
  };

  attempt(route.member, false);
}
