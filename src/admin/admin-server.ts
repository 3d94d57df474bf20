import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/log.js";

/** What the admin API reads of the running process. */
export interface AdminSource {
  /** True once every listener of the current configuration is bound. */
  ready(): boolean;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The admin listener (SPEC 7): `/healthz` answers while the process runs; `/readyz` once every
 * listener is bound. It is a separate listener so that data-path load never hides it.
 */
export async function startAdminServer(
  address: string,
  port: number,
  source: AdminSource,
  log: Logger,
): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const ready = source.ready();
      res
        .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
        .end(ready ? "ready\n" : "not ready\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ address, port: bound }, "admin listener bound");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
