/**
 * Backends served by nginx for benchmarks that must not share a Node event loop (or its garbage
 * collector) with the load generator: three members on 127.0.1.1–3, each with
 *
 * - an HTTP port answering `200` and, to a request without a `JSESSIONID` cookie, setting one
 *   (an application with its own session cookie, for APP_COOKIE);
 * - a TCP port (nginx's stream module) that writes one line and closes.
 *
 * Needs `nginx` with the stream module (Debian: nginx-light and libnginx-mod-stream).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./bench-net.js";

export const MEMBER_ADDRESSES = ["127.0.1.1", "127.0.1.2", "127.0.1.3"] as const;

export interface NginxBackends {
  readonly httpPort: number;
  readonly tcpPort: number;
  stop(): void;
}

/** The `load_module` line the stream module needs, or "" when it is built in; throws when absent. */
function streamModule(): string {
  // nginx -V writes its build flags to stderr.
  const flags = execFileSync("sh", ["-c", "nginx -V 2>&1"], { encoding: "utf8" });
  if (/--with-stream(\s|$)/.test(flags)) return "";
  for (const dir of ["/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/lib64/nginx/modules"]) {
    const so = join(dir, "ngx_stream_module.so");
    if (existsSync(so)) return `load_module ${so};`;
  }
  throw new Error("nginx has no stream module (Debian: apt-get install libnginx-mod-stream)");
}

export async function startNginxBackends(): Promise<NginxBackends> {
  const dir = mkdtempSync(join(tmpdir(), "stickylb-bench-nginx-"));
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, sub));
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const listen = (port: number) => MEMBER_ADDRESSES.map((a) => `listen ${a}:${port} backlog=4096;`).join(" ");
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `${streamModule()}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 100000000;
  default_type text/plain;
  # The application's own session cookie, set only when the request has none (empty: no header).
  map $cookie_JSESSIONID $new_session {
    "" "JSESSIONID=$request_id; Path=/";
    default "";
  }
  server {
    ${listen(httpPort)}
    location / {
      add_header Set-Cookie $new_session;
      return 200 "ok $server_addr\\n";
    }
  }
}
stream {
  server {
    ${listen(tcpPort)}
    return "$server_addr\\n";
  }
}
`,
  );
  const proc: ChildProcess = spawn("nginx", ["-p", `${dir}/`, "-c", conf], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; i < 100; i++) {
    if (await accepts(MEMBER_ADDRESSES[2], httpPort)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { httpPort, tcpPort, stop: () => proc.kill("SIGTERM") };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      res(true);
    });
    s.on("error", () => res(false));
  });
}
