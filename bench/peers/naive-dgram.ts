/**
 * Naive Node UDP relay: one upstream socket per client address and port (a flow), the member a hash
 * of the client address, replies sent back from the listening socket. Idle flows swept each minute.
 *
 *   node dist/bench/peers/naive-dgram.js --listen 127.0.0.1:18484 --members 127.0.1.1:18012,...
 */
import * as dgram from "node:dgram";
import { fnv1a, option, parseEndpoint, parseEndpoints } from "../lib/endpoint.js";

interface Flow {
  readonly socket: dgram.Socket;
  connected: boolean;
  seen: number;
}

const listen = parseEndpoint(option(process.argv, "listen"));
const members = parseEndpoints(option(process.argv, "members"));
const flows = new Map<string, Flow>();
const front = dgram.createSocket("udp4");

front.on("message", (msg, rinfo) => {
  const key = `${rinfo.address}:${rinfo.port}`;
  let flow = flows.get(key);
  if (flow === undefined) {
    const member = members[fnv1a(rinfo.address) % members.length]!;
    const socket = dgram.createSocket("udp4");
    socket.on("message", (reply) => front.send(reply, rinfo.port, rinfo.address));
    socket.on("error", () => undefined);
    const created: Flow = { socket, connected: false, seen: 0 };
    socket.connect(member.port, member.host, () => {
      created.connected = true;
      socket.send(msg);
    });
    flow = created;
    flows.set(key, flow);
  } else if (flow.connected) {
    flow.socket.send(msg);
  }
  flow.seen = Date.now();
});
front.bind(listen.port, listen.host);

setInterval(() => {
  const old = Date.now() - 60_000;
  for (const [key, flow] of flows)
    if (flow.seen < old) {
      flow.socket.close();
      flows.delete(key);
    }
}, 60_000).unref();
process.on("SIGTERM", () => process.exit(0));
