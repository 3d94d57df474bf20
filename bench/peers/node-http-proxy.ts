/**
 * node-http-proxy peer: the common way to write a Node reverse proxy. Round robin over the members,
 * upstream keep-alive through one agent, X-Forwarded-* added (`xfwd`), as stickylb does.
 *
 *   node dist/bench/peers/node-http-proxy.js --listen 127.0.0.1:18380 --members 127.0.1.1:18010,...
 */
import * as http from "node:http";
import httpProxy from "http-proxy";
import { option, parseEndpoint, parseEndpoints } from "../lib/endpoint.js";

const listen = parseEndpoint(option(process.argv, "listen"));
const targets = parseEndpoints(option(process.argv, "members")).map((m) => `http://${m.host}:${m.port}`);
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
proxy.on("error", (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502);
  res.end();
});

let next = 0;
const server = http.createServer((req, res) => {
  const target = targets[next]!;
  next = (next + 1) % targets.length;
  proxy.web(req, res, { target });
});
server.keepAliveTimeout = 65_000;
server.listen(listen.port, listen.host);
process.on("SIGTERM", () => process.exit(0));
