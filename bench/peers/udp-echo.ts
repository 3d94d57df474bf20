/**
 * UDP echo backend, used only when nginx lacks its stream module (nginx's `return` is the usual
 * UDP backend of bench/run.sh).
 *
 *   node dist/bench/peers/udp-echo.js --listen 127.0.1.1:18012 --listen 127.0.1.2:18012
 */
import * as dgram from "node:dgram";
import { options, parseEndpoint } from "../lib/endpoint.js";

for (const spec of options(process.argv, "listen")) {
  const listen = parseEndpoint(spec);
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  socket.bind(listen.port, listen.host);
}
process.on("SIGTERM", () => process.exit(0));
