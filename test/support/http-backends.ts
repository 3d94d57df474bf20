import * as http from "node:http";
import type * as net from "node:net";

export type BackendBehaviour =
  /** Answers `NAME\n` (200) and echoes request facts in headers. */
  | "name"
  /** As `name`, and sets `JSESSIONID` on a request that carries none. */
  | "jsessionid"
  /** Reads the request and never answers. */
  | "hang"
  /** Destroys the connection as soon as a request arrives (no response byte). */
  | "reset";

export interface HttpBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Requests that reached this backend (complete heads). */
  requests(): number;
  /** The last request's headers as received. */
  lastHeaders(): http.IncomingHttpHeaders | undefined;
  lastRawHeaders(): string[];
  lastBody(): string;
  /** Changes what it does from the next request on. */
  behave(next: BackendBehaviour): void;
  close(): Promise<void>;
}

let sessionCounter = 0;

/**
 * An HTTP backend on loopback (port 0 unless given). `GET /set-cookie?v=X` sets `JSESSIONID=X`,
 * `GET /logout` deletes it, `GET /own-header?name=H` answers with its own header `H: app`,
 * whatever the behaviour; a WebSocket-free server (tests that need
 * WebSocket start their own `ws` server on top of {@link HttpBackend}-like names).
 */
export async function startHttpBackend(
  name: string,
  address = "127.0.0.1",
  behaviour: BackendBehaviour = "name",
  port = 0,
): Promise<HttpBackend> {
  let mode = behaviour;
  let count = 0;
  let last: http.IncomingMessage | undefined;
  let lastBody = "";
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    count++;
    last = req;
    if (mode === "reset") {
      req.socket.destroy();
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      lastBody = body;
      if (mode === "hang") return;
      const url = new URL(req.url ?? "/", "http://backend");
      const headers: [string, string][] = [["Content-Type", "text/plain"]];
      if (url.pathname === "/set-cookie") {
        headers.push(["Set-Cookie", `JSESSIONID=${url.searchParams.get("v") ?? "x"}; Path=/; HttpOnly`]);
      } else if (url.pathname === "/logout") {
        headers.push(["Set-Cookie", "JSESSIONID=; Path=/; Max-Age=0"]);
      } else if (url.pathname === "/own-header") {
        headers.push([url.searchParams.get("name") ?? "X-Session", "app"]);
      } else if (url.pathname === "/own-cookie") {
        headers.push(["Set-Cookie", `${url.searchParams.get("name") ?? "STICKYLB"}=app; Path=/`]);
      } else if (mode === "jsessionid" && !(req.headers.cookie ?? "").includes("JSESSIONID=")) {
        sessionCounter++;
        headers.push(["Set-Cookie", `JSESSIONID=${name}-${sessionCounter}; Path=/; HttpOnly`]);
      }
      if (url.pathname === "/slow-body") {
        res.writeHead(200, headers);
        res.write(`${name}\n`);
        setTimeout(() => res.end("done\n"), 200);
        return;
      }
      res.writeHead(200, headers);
      res.end(`${name}\n`);
    });
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, resolve);
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    name,
    address,
    port: bound,
    requests: () => count,
    lastHeaders: () => last?.headers,
    lastRawHeaders: () => last?.rawHeaders ?? [],
    lastBody: () => lastBody,
    behave: (next) => {
      mode = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
  /** `Set-Cookie` values. */
  readonly setCookies: string[];
}

/** One request with a fresh connection (no keep-alive surprises between tests). */
export function httpGet(
  port: number,
  path = "/",
  headers: http.OutgoingHttpHeaders = {},
  options: { method?: string; body?: string; host?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: options.host ?? "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers,
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            setCookies: res.headers["set-cookie"] ?? [],
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** `NAME=VALUE` of the first Set-Cookie of `name`, for sending back in a Cookie header. */
export function cookiePair(setCookies: readonly string[], name: string): string | undefined {
  for (const c of setCookies) {
    const pair = c.split(";")[0]!.trim();
    if (pair.startsWith(`${name}=`)) return pair;
  }
  return undefined;
}
