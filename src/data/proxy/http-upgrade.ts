/**
 * Relays an HTTP upgrade (WebSocket) to a member: placed and sticky like any request (the same
 * placement front and retry rule), on a connection of its own (an upgraded connection never
 * returns to a keep-alive pool). The request body, if any, goes to the member as it arrives;
 * bytes after it wait for the member's answer. A `101` goes back with the inserted cookie when one
 * is due, then bytes flow both ways until either side closes or both stay silent for
 * `timeouts.idle`. A member that answers without upgrading has its response relayed by its own
 * framing, then both connections close. Every socket callback is guarded (`fault-guard.ts`), and
 * one access-log line is written when the upgrade ends.
 */
import * as net from "node:net";
import type { ListenerModel } from "../../core/model.js";
import { guard } from "../fault-guard.js";
import { ChunkedDecoder } from "../http1/chunked-decoder.js";
import { type BodyFraming, FramingError, responseFraming } from "../http1/framing.js";
import { HeadError, HeadScanner, parseResponseHead, type RequestHead } from "../http1/head-parser.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { logAccess, pathForLog } from "./access-log.js";
import type { HttpEnv, RouteOutcome } from "./http-forward.js";
import { requestHeadersForMember, responseHeadersForClient } from "./http-headers.js";
import { rawHead, rawRequestHead, writeRawResponse } from "./http-local.js";
import { retryElsewhere } from "./retry.js";

/** Finds where a message body ends in a byte stream, by its framing. */
class BodyEnd {
  private left: number;
  private readonly decoder: ChunkedDecoder | undefined;

  constructor(private readonly framing: BodyFraming) {
    this.left = framing.kind === "length" ? framing.length : 0;
    this.decoder = framing.kind === "chunked" ? new ChunkedDecoder() : undefined;
  }

  get done(): boolean {
    if (this.decoder !== undefined) return this.decoder.done;
    return this.framing.kind === "close" ? false : this.left === 0;
  }

  /** The index in `buf` from `start` just past this body's last byte (`buf.length`: it goes on). */
  cut(buf: Buffer, start: number): number {
    if (this.done) return start;
    if (this.decoder !== undefined) return this.decoder.feed(buf, start, buf.length);
    if (this.framing.kind === "close") return buf.length;
    const end = Math.min(buf.length, start + this.left);
    this.left -= end - start;
    return end;
  }
}

export function forwardUpgrade(
  client: net.Socket,
  head: RequestHead,
  protocol: string,
  rest: Buffer | undefined,
  requestFraming: BodyFraming,
  route: RouteOutcome & { ok: true },
  listener: ListenerModel,
  env: HttpEnv,
): void {
  const { counters, ctx } = env;
  const { pool, sticky } = route;
  const clientIp = sticky.facts.clientIp;
  const started = ctx.clock.now();
  const headers = requestHeadersForMember(head.raw, {
    clientIp,
    proto: env.https ? "https" : "http",
    port: env.port,
    upgrade: protocol,
    chunked: requestFraming.kind === "chunked",
  });
  const request = rawRequestHead(head.method, head.target, headers);
  const timeouts = listener.timeouts;

  let current: net.Socket | undefined;
  /** The member connection once the request head is written: body bytes go straight to it. */
  let bodySink: net.Socket | undefined;
  let status = 0;
  let served: MemberRuntime | undefined;
  const endAll = (): void => {
    client.destroy();
    current?.destroy();
  };
  const guarded = <A extends unknown[]>(fn: (...args: A) => void) => guard(ctx, "upgrade", endAll, fn);

  // The request body goes to the member as it arrives (a member may wait for it before
  // answering); what follows it is the upgraded protocol's and waits for the 101.
  const body = new BodyEnd(requestFraming);
  const toMember: Buffer[] = [];
  const early: Buffer[] = [];
  const takeClientBytes = (chunk: Buffer): void => {
    const cut = body.cut(chunk, 0);
    if (cut > 0) {
      const part = cut === chunk.length ? chunk : chunk.subarray(0, cut);
      if (bodySink !== undefined) bodySink.write(part);
      else toMember.push(part);
    }
    if (cut < chunk.length) {
      early.push(chunk.subarray(cut));
      client.pause();
    }
  };
  if (rest !== undefined) takeClientBytes(rest);
  const onClientData = guarded(takeClientBytes);
  client.on("data", onClientData);
  let clientGone = false;
  client.once(
    "close",
    guarded(() => {
      clientGone = true;
      if (listener.accessLog)
        logAccess(ctx.log, {
          listener: listener.name,
          protocol: env.https ? "HTTPS" : "HTTP",
          client: clientIp,
          pool: pool.name,
          member: served?.endpoint ?? null,
          affinity: sticky.result ?? "none",
          status,
          method: head.method,
          path: pathForLog(head.target),
          durationMs: ctx.clock.now() - started,
          bytesIn: client.bytesRead,
          bytesOut: client.bytesWritten,
        });
    }),
  );
  const answerLocally = (code: number, member: string): void => {
    status = code;
    counters.countResponse(pool.name, member, code);
    writeRawResponse(client, code);
  };

  const attempt = (target: MemberRuntime, retried: boolean): void => {
    served = target;
    const finish = target.claim(client);
    let connected = false;
    let settled = false;
    const up = net.connect({ host: target.address, port: target.port, noDelay: true });
    current = up;
    up.setTimeout(timeouts.connectMs);
    const scanner = new HeadScanner();
    let partial: Buffer | undefined;

    const fail = (code: number): void => {
      settled = true;
      up.destroy();
      finish();
      answerLocally(code, code === 504 ? target.endpoint : "");
    };
    const connectFailed = (code: string): void => {
      counters.connectFailures++;
      ctx.outcomes.connectFailed(target, code);
      const next = retryElsewhere(pool, sticky, target, !retried && !clientGone, counters);
      if (next !== undefined) {
        attempt(next, true);
        return;
      }
      counters.badGateway++;
      answerLocally(502, "");
    };
    up.on(
      "connect",
      guarded(() => {
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
        for (const part of toMember) up.write(part);
        toMember.length = 0;
        bodySink = up;
      }),
    );
    up.on(
      "timeout",
      guarded(() => {
        if (settled) return;
        if (connected) {
          counters.memberTimeouts++;
          fail(504);
        } else {
          settled = true;
          up.destroy();
          finish();
          connectFailed("ETIMEDOUT");
        }
      }),
    );
    up.on(
      "error",
      guarded((err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        up.destroy();
        finish();
        const code = err.code ?? err.message;
        if (!connected) {
          connectFailed(code);
          return;
        }
        counters.resets++;
        ctx.outcomes.connectFailed(target, code);
        counters.badGateway++;
        answerLocally(502, "");
      }),
    );
    up.on(
      "close",
      guarded(() => {
        if (settled) return;
        // Closed before a complete response head.
        settled = true;
        finish();
        counters.resets++;
        counters.badGateway++;
        answerLocally(502, "");
      }),
    );
    const onHead = guarded((chunk: Buffer): void => {
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
        scanner.reset();
        if (end < buf.length) onHead(buf.subarray(end));
        return;
      }
      const upgraded = response.status === 101;
      const framing = upgraded ? undefined : responseFraming(response.raw, response.status, head.method);
      if (framing instanceof FramingError) {
        counters.badGateway++;
        fail(502);
        return;
      }
      settled = true;
      bodySink = undefined;
      up.off("data", onHead);
      client.off("data", onClientData);
      const out = responseHeadersForClient(response.raw, upgraded);
      out.push(...sticky.answered(target, response.raw));
      status = response.status;
      counters.countResponse(pool.name, target.endpoint, response.status);
      if (!client.writable || clientGone) {
        up.destroy();
        finish();
        return;
      }
      const close = (): void => {
        client.destroy();
        up.destroy();
        finish();
      };
      // Both directions stay under the idle timeout from here on, whatever the answer.
      up.setTimeout(timeouts.idleMs, close);
      up.once("close", guarded(close));
      client.once("close", guarded(close));
      if (!upgraded && framing !== undefined) {
        relayRefusal(buf.subarray(end), framing);
        return;
      }
      counters.upgrades++;
      client.write(rawHead(101, response.reason, out), "latin1");
      if (end < buf.length) client.write(buf.subarray(end));
      for (const piece of early) up.write(piece);
      up.pipe(client);
      client.pipe(up);
      client.resume();

      /** The member refused the upgrade: relay its answer by its framing, then close both. */
      function relayRefusal(first: Buffer, responseBody: BodyFraming): void {
        out.push("Connection", "close");
        client.write(rawHead(response.status, (response as { reason: string }).reason, out), "latin1");
        const tail = new BodyEnd(responseBody);
        const relay = (piece: Buffer): void => {
          const cut = tail.cut(piece, 0);
          if (cut > 0) client.write(cut === piece.length ? piece : piece.subarray(0, cut));
          if (tail.done) {
            up.destroy();
            finish();
            client.end();
          }
        };
        if (tail.done) relay(Buffer.alloc(0));
        else {
          if (first.length > 0) relay(first);
          if (!tail.done) {
            up.on("data", guarded(relay));
            // A body that runs until the member closes ends the client's response there.
            up.once(
              "end",
              guarded(() => client.end()),
            );
          }
        }
      }
    });
    up.on("data", onHead);
  };

  attempt(route.member, false);
}
