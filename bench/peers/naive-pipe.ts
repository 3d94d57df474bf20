/**
 * Naive Node TCP relay, the reference for what `net` + `pipe` give without any care: the member is
 * a hash of the client address, bytes flow through two `pipe`s.
 *
 *   node dist/bench/peers/naive-pipe.js --listen 127.0.0.1:18483=127.0.1.1:18010,127.0.1.2:18010
 *   (--listen may be repeated)
 */
import * as net from "node:net";
import { fnv1a, options, parseEndpoint, parseEndpoints } from "../lib/endpoint.js";

for (const spec of options(process.argv, "listen")) {
  const [front, back] = spec.split("=");
  if (front === undefined || back === undefined) throw new Error(`${spec}: expected LISTEN=MEMBERS`);
  const listen = parseEndpoint(front);
  const members = parseEndpoints(back);
  net
    .createServer({ noDelay: true }, (client) => {
      const member = members[fnv1a(client.remoteAddress ?? "") % members.length]!;
      const upstream = net.connect({ host: member.host, port: member.port, noDelay: true });
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    })
    .listen({ host: listen.host, port: listen.port, backlog: 4096 });
}
process.on("SIGTERM", () => process.exit(0));
