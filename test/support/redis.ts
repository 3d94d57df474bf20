/**
 * Real redis-server processes for tests (never a mock where the real one runs). A server gets a
 * port that was free a moment ago (`redis-server --port 0` means "no TCP"), no persistence, and a
 * private folder; `stop` kills it (SIGKILL by default, as a crash would), `restart` starts a fresh,
 * empty one on the same port.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { freeTcpPort } from "./ports.js";

const run = promisify(execFile);

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Kills the server (SIGKILL unless told otherwise) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new, empty server on the same port. */
  restart(): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP: a store that is there but answers nothing; SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** Runs one command through redis-cli and returns its raw output (trimmed). */
  cli(...args: string[]): Promise<string>;
}

export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freeTcpPort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-redis-"));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        ...extraArgs,
      ],
      { stdio: "ignore" },
    );
    await waitForPing(port);
  };
  await launch();
  const stop = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill(signal);
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    signal(signal) {
      child?.kill(signal);
    },
    cli: (...args) => redisCli(port, ...args),
  };
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout.trim();
}

/** Resolves when the server answers PING, rejects after `timeoutMs`. */
export function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  return pingUntil(
    `redis-server on port ${port}`,
    () => net.connect({ host: "127.0.0.1", port }),
    "connect",
    timeoutMs,
  );
}

/** Polls with PING over sockets from `open` (plain or TLS) until one answers PONG. */
async function pingUntil(
  what: string,
  open: () => net.Socket,
  readyEvent: "connect" | "secureConnect",
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pingOnce(open(), readyEvent)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer PING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pingOnce(socket: net.Socket, readyEvent: "connect" | "secureConnect"): Promise<boolean> {
  return new Promise((resolve) => {
    socket.setTimeout(1000);
    let reply = "";
    socket.on(readyEvent, () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.startsWith("+PONG"));
      }
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Three masters, no replicas, slots spread by `redis-cli --cluster create`; waits for `cluster_state:ok`. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${i}.conf`]));
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    const deadline = Date.now() + 15_000;
    for (const n of nodes) {
      while (!(await n.cli("cluster", "info")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error("the test cluster did not reach cluster_state:ok");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    for (const n of nodes) await n.stop();
    throw err;
  }
  return {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}`,
    async stop() {
      for (const n of nodes) {
        await n.stop();
        rmSync(n.dir, { recursive: true, force: true });
      }
    },
  };
}

export interface RedisTlsServer {
  readonly port: number;
  /** `rediss://127.0.0.1:PORT` */
  readonly url: string;
  /** The PEM file of the test's own certificate authority (what `NODE_EXTRA_CA_CERTS` is given). */
  readonly caFile: string;
  stop(): Promise<void>;
}

/**
 * A redis-server that speaks only TLS (`--port 0 --tls-port PORT`), with a certificate authority
 * and a server certificate for 127.0.0.1 made by openssl for this test in a private folder.
 * Debian's redis-server is built with TLS; this throws when it is not.
 */
export async function startRedisTls(): Promise<RedisTlsServer> {
  const port = await freeTcpPort();
  const dir = mkdtempSync(join(tmpdir(), "stickylb-redis-tls-"));
  const at = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => run("openssl", args);
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=stickylb test CA",
  );
  await openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("server.key"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  );
  writeFileSync(at("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.crt"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.crt"),
    "-days",
    "2",
    "-extfile",
    at("ext.cnf"),
  );
  const child = spawn(
    "redis-server",
    [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      at("server.crt"),
      "--tls-key-file",
      at("server.key"),
      "--tls-ca-cert-file",
      at("ca.crt"),
      // Clients authenticate with the password or nothing, as with most managed Redis services.
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: "ignore" },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForTlsPing(port, readFileSync(at("ca.crt")));
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, url: `rediss://127.0.0.1:${port}`, caFile: at("ca.crt"), stop };
}

function waitForTlsPing(port: number, ca: Buffer, timeoutMs = 10_000): Promise<void> {
  return pingUntil(
    `redis-server (TLS) on port ${port}`,
    () => tls.connect({ host: "127.0.0.1", port, ca }),
    "secureConnect",
    timeoutMs,
  );
}

/**
 * A TCP proxy in front of a server that holds every answer back by `delayMs` (a slow store).
 * Requests pass at once, so the store does the work; only the client's wait grows. With
 * `direction` "requests" it is the other way round: every request reaches the store `delayMs`
 * late (a slow link from one replica), answers come back at once.
 */
export async function startSlowProxy(
  targetPort: number,
  delayMs: number,
  direction: "answers" | "requests" = "answers",
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    // One delay for every chunk: the timers fire in order, so the bytes keep theirs.
    client.on("data", (d) => {
      if (direction === "answers") upstream.write(d);
      else
        setTimeout(() => {
          if (!upstream.destroyed) upstream.write(d);
        }, delayMs);
    });
    upstream.on("data", (d) => {
      if (direction === "requests") client.write(d);
      else
        setTimeout(() => {
          if (!client.destroyed) client.write(d);
        }, delayMs);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  return listenOnLoopback(server, sockets);
}

/** A server that accepts connections and never answers a byte. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.resume();
  });
  return listenOnLoopback(server, sockets);
}

/** Listens on 127.0.0.1, port 0; `close` destroys the sockets the server handed out, then closes it. */
async function listenOnLoopback(
  server: net.Server,
  sockets: Set<net.Socket>,
): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
