/**
 * A minimal Kubernetes API for a process in a network namespace the test created, where the
 * in-process double (fake-kube-api.ts) cannot be reached: plain JavaScript, so that
 * `ip netns exec NS node static-kube-api.mjs OBJECTS.json` runs it inside the namespace. Lists
 * answer the objects given (by their list path), watches stay open, the Lease is kept in memory,
 * Events and status patches are accepted. Prints `{"port":N}` once listening on 127.0.0.1:0.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";

/** { "/api/v1/services": [ ...items ] } */
const lists = JSON.parse(readFileSync(process.argv[2], "utf8"));
let lease;
let rv = 100;

const json = (res, code, body) =>
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      return;
    }
    if (url.pathname.includes("/leases")) {
      if (req.method === "GET") {
        if (lease === undefined) json(res, 404, { kind: "Status", code: 404, reason: "NotFound" });
        else json(res, 200, lease);
        return;
      }
      lease = JSON.parse(body);
      lease.metadata.resourceVersion = String(++rv);
      json(res, req.method === "POST" ? 201 : 200, lease);
      return;
    }
    if (req.method === "POST" || req.method === "PATCH") {
      json(res, req.method === "POST" ? 201 : 200, JSON.parse(body));
      return;
    }
    json(res, 200, { metadata: { resourceVersion: String(rv) }, items: lists[url.pathname] ?? [] });
  });
});
server.listen({ host: "127.0.0.1", port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
