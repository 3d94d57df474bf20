/**
 * Relays an HTTP upgrade (WebSocket) to a member (SPEC 6.6): placed and sticky like any request,
 * on a connection of its own (an upgraded connection never returns to a keep-alive pool). The
 * member's `101` goes back with the inserted cookie when one is due, then bytes flow both ways
 * until either side closes or both stay silent for `timeouts.idle`. A member that answers without
 * upgrading has its response relayed and the connection closed.
 */
import * as net from "node:net";
import type { ListenerModel } from "../../core/model.js";
import { HeadError, HeadScanner, parseResponseHead, type RequestHead } from "../http1/head-parser.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { HttpEnv, RouteOutcome } from "./http-forward.js";
import { requestHeadersForMember, responseHeadersForClient } from "./http-headers.js";
import { rawHead, rawRequestHead, writeRawResponse } from "./http-local.js";

export function forwardUpgrade(
  client: net.Socket,
  clientIp: string,
  head: RequestHead,
  protocol: string,
  rest: Buffer | undefined,
  route: RouteOutcome & { ok: true },
  listener: ListenerModel,
  env: HttpEnv,
): void {
  const { counters, ctx } = env;
  const { pool, sticky } = route;
  const headers = requestHeadersForMember(head.raw, {
    clientIp,
    proto: env.https ? "https" : "http",
    port: env.port,
    upgrade: protocol,
    chunked: false,
  });
  const request = rawRequestHead(head.method, head.target, headers);
  const timeouts = listener.timeouts;
  // Client bytes that arrive before the member answers wait here (bounded by pausing the client).
  const early: Buffer[] = rest === undefined ? [] : [rest];
  const onEarly = (chunk: Buffer): void => {
    early.push(chunk);
    client.pause();
  };
  client.on("data", onEarly);
  let clientGone = false;
  const onClientClose = (): void => {
    clientGone = true;
  };
  client.once("close", onClientClose);

  const attempt = (target: MemberRuntime, retried: boolean): void => {
    const finish = target.claim(client);
    let connected = false;
    let settled = false;
    const up = net.connect({ host: target.address, port: target.port, noDelay: true });
    up.setTimeout(timeouts.connectMs);
    const scanner = new HeadScanner();
    let partial: Buffer | undefined;

    const fail = (status: number): void => {
      settled = true;
      up.destroy();
      finish();
      counters.countResponse(pool.name, status === 504 ? target.endpoint : "", status);
      writeRawResponse(client, status);
    };
    up.on("connect", () => {
      connected = true;
      ctx.outcomes.connectSucceeded(target);
      up.setTimeout(timeouts.memberMs);
      if (clientGone) {
        settled = true;
        up.destroy();
        finish();
        return;
      }
      up.write(request, "latin1");
    });
    up.on("timeout", () => {
      if (settled) return;
      if (connected) {
        counters.memberTimeouts++;
        fail(504);
      } else {
        settled = true;
        up.destroy();
        finish();
        connectFailed(target, retried, "ETIMEDOUT");
      }
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      up.destroy();
      finish();
      const code = err.code ?? err.message;
      if (connected) {
        counters.resets++;
        ctx.outcomes.connectFailed(target, code);
        counters.badGateway++;
        counters.countResponse(pool.name, "", 502);
        writeRawResponse(client, 502);
        return;
      }
      connectFailed(target, retried, code);
    });
    up.on("close", () => {
      if (settled) return;
      // Closed before a complete response head.
      settled = true;
      finish();
      counters.resets++;
      counters.badGateway++;
      counters.countResponse(pool.name, "", 502);
      writeRawResponse(client, 502);
    });
    const onHead = (chunk: Buffer): void => {
      const buf = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
      const end = scanner.feed(buf, 0, buf.length);
      if (end === -1) {
        partial = buf;
        return;
      }
      const response = end instanceof HeadError ? end : parseResponseHead(buf, 0, end);
      if (response instanceof HeadError || end instanceof HeadError) {
        counters.badGateway++;
        fail(502);
        return;
      }
      if (response.status > 101 && response.status < 200) {
        // An interim response before the answer (103): skip it.
        partial = undefined;
        if (end < buf.length) onHead(buf.subarray(end));
        return;
      }
      settled = true;
      up.off("data", onHead);
      up.setTimeout(0);
      client.off("data", onEarly);
      client.off("close", onClientClose);
      const upgraded = response.status === 101;
      const out = responseHeadersForClient(response.raw, upgraded);
      for (const cookie of sticky.answered(target, response.raw)) out.push("Set-Cookie", cookie);
      counters.countResponse(pool.name, target.endpoint, response.status);
      if (!client.writable || clientGone) {
        up.destroy();
        finish();
        return;
      }
      if (!upgraded) {
        // The member refused the upgrade: relay its answer, then close both connections.
        out.push("Connection", "close");
        client.write(rawHead(response.status, response.reason, out), "latin1");
        if (end < buf.length) client.write(buf.subarray(end));
        up.pipe(client);
        up.once("close", () => {
          finish();
          client.destroySoon();
        });
        client.once("close", () => up.destroy());
        client.resume();
        return;
      }
      counters.upgrades++;
      client.write(rawHead(101, response.reason, out), "latin1");
      if (end < buf.length) client.write(buf.subarray(end));
      for (const piece of early) up.write(piece);
      const close = (): void => {
        client.destroy();
        up.destroy();
        finish();
      };
      up.setTimeout(timeouts.idleMs, close);
      up.pipe(client);
      client.pipe(up);
      up.once("close", close);
      client.once("close", close);
      client.resume();
    };
    up.on("data", onHead);
  };

  const connectFailed = (target: MemberRuntime, retried: boolean, code: string): void => {
    counters.connectFailures++;
    ctx.outcomes.connectFailed(target, code);
    const next = retried || clientGone ? undefined : pool.pick(clientIp, target);
    if (next === undefined) {
      counters.badGateway++;
      counters.countResponse(pool.name, "", 502);
      writeRawResponse(client, 502);
      return;
    }
    counters.retries++;
    sticky.moved(next);
    attempt(next, true);
  };

  attempt(route.member, false);
}
