/**
 * Turns a routed request into its exchange: the head towards the member, built once (hop-by-hop
 * headers out, `X-Forwarded-*` in, `Host` added for an HTTP/1.0 client that sent none; an upgrade
 * keeps its handshake headers), and the {@link Exchange} that forwards it — an
 * {@link UpgradeExchange} when the client asks to switch protocols, so that a plain request and an
 * upgrade share every step up to the member's answer.
 */
import type { ClientSide, ParsedRequest } from "./http-exchange-request.js";
import { Exchange, type HttpEnv, type RouteOutcome } from "./http-forward.js";
import { firstHeader, requestHeadersForMember } from "./http-headers.js";
import { rawRequestHead } from "./http-local.js";
import { UpgradeExchange } from "./http-upgrade.js";

export function exchangeFor(
  client: ClientSide,
  request: ParsedRequest,
  route: RouteOutcome & { ok: true },
  env: HttpEnv,
): Exchange {
  const { head, connection } = request;
  const upgrade = connection.upgrade ? firstHeader(head.raw, "upgrade") : undefined;
  const headers = requestHeadersForMember(
    head.raw,
    {
      clientIp: client.clientIp,
      proto: env.https ? "https" : "http",
      port: env.port,
      upgrade,
      chunked: request.framing.kind === "chunked",
    },
    connection,
  );
  // HTTP/1.1 needs a Host on the member hop; an HTTP/1.0 client may have sent none.
  if (request.hosts === 0) headers.push("Host", route.target.endpoint);
  const text = rawRequestHead(head.method, head.target, headers);
  return upgrade === undefined
    ? new Exchange(client, request, route, text, env)
    : new UpgradeExchange(client, request, route, text, env);
}
