/**
 * One connection (standalone Redis/Valkey or Redis Cluster) with an up/down state: one log line
 * per change of state, reconnection with jittered exponential backoff, and no command queue while
 * down. A command sent while the store is down fails at once instead of waiting for a reconnect,
 * because every caller has something better to do than wait (serve from the local table, keep the
 * write in its own bounded queue).
 */
import { isIP } from "node:net";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../core/log.js";
import type { StateStoreTarget } from "./state-store-url.js";
import type { StateStoreMetrics } from "./store-metrics.js";
import { UNBATCHED_COMMANDS } from "./store-scripts.js";

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 100, maxMs: 5000 };

/**
 * Delay before reconnection attempt `attempt` (1, 2, …): doubling from `minMs`, capped at `maxMs`,
 * with "equal jitter" (half fixed, half random) so that replicas that lost the store together do
 * not all knock at the same instant when it comes back.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exp = Math.min(options.maxMs, options.minMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(exp / 2 + (exp / 2) * random());
}

export interface StoreConnectionOptions {
  readonly target: StateStoreTarget;
  /** The password from `passwordFile`; wins over one in the URL. */
  readonly password?: string;
  readonly log: Logger;
  readonly metrics: StateStoreMetrics;
  /** Time to establish a connection and get the first answer; then it is retried. Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** A command with no answer after this fails (the caller's own budget is usually shorter). Default 2 s. */
  readonly commandTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
}

export type Client = Redis | Cluster;

export class StoreConnection {
  readonly client: Client;
  /** A Redis Cluster: a command may only touch keys of one slot. */
  readonly cluster: boolean;
  private readonly log: Logger;
  private readonly metrics: StateStoreMetrics;
  private readonly listeners = new Set<(up: boolean) => void>();
  private wasUp = false;
  /** Whether a "down" line was logged since the last "up" (one line per change of state). */
  private loggedDown = false;
  private lastError = "";
  private readyWatchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: StoreConnectionOptions) {
    this.log = options.log;
    this.metrics = options.metrics;
    this.client = createClient(options);
    this.cluster = options.target.mode === "cluster";
    this.attach(this.client);
  }

  /** True while commands are answered; a cheap property read, fit for the hot path. */
  get up(): boolean {
    return this.client.status === "ready";
  }

  /** Called with `true` each time the store becomes usable, `false` each time it is lost. */
  onStateChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts connecting; resolves at once (a store that is down at start is a degraded state, not an error). */
  start(): void {
    this.client.connect().catch(() => {
      // Reported through the "error"/"close" events and retried with backoff.
    });
  }

  /**
   * A second connection to the same store for subscriptions (a connection in subscriber mode can
   * send nothing else). Up/down of the store is judged from the main connection only.
   */
  duplicate(): Client {
    const dup: Client = this.client instanceof Redis ? this.client.duplicate() : this.client.duplicate();
    dup.on("error", () => {
      // The main connection logs the store's state; the subscriber reconnects on its own.
    });
    return dup;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.readyWatchdog);
    this.client.disconnect();
  }

  private attach(client: Client): void {
    client.on("error", (err: Error) => {
      this.lastError = err.message;
      this.markDown();
    });
    client.on("ready", () => {
      clearTimeout(this.readyWatchdog);
      this.metrics.up = 1;
      if (!this.wasUp) {
        this.wasUp = true;
        this.loggedDown = false;
        this.log.info({ store: describe(this.options.target) }, "state store up");
        for (const l of this.listeners) safely(() => l(true), this.log);
      }
    });
    client.on("close", () => this.markDown());
    client.on("end", () => this.markDown());
    if (client instanceof Redis) {
      // A server that accepts the connection but never answers leaves ioredis waiting for the
      // ready check forever; drop such a connection so that the backoff loop tries again.
      client.on("connect", () => {
        clearTimeout(this.readyWatchdog);
        this.readyWatchdog = setTimeout(() => {
          if (client.status !== "ready" && !this.closed) {
            this.lastError = "connected, but no answer to the ready check";
            this.markDown();
            client.disconnect(true);
          }
        }, this.options.connectTimeoutMs ?? 2000);
        this.readyWatchdog.unref();
      });
    }
  }

  private markDown(): void {
    this.metrics.up = 0;
    if (this.closed) return;
    if (this.wasUp) {
      this.wasUp = false;
      for (const l of this.listeners) safely(() => l(false), this.log);
    }
    if (!this.loggedDown) {
      this.loggedDown = true;
      this.log.warn(
        { store: describe(this.options.target), reason: this.lastError || "connection closed" },
        "state store down: serving from local tables, reconnecting with backoff",
      );
    }
  }
}

function safely(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (err) {
    log.error({ err }, "state store listener failed");
  }
}

/** host:port list for logs; never the password. */
export function describe(target: StateStoreTarget): string {
  const nodes = target.nodes.map((n) =>
    n.host.includes(":") ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`,
  );
  return `${target.mode === "cluster" ? "cluster " : ""}${nodes.join(",")}`;
}

function createClient(options: StoreConnectionOptions): Client {
  const { target } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const password = options.password ?? target.password;
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Each caller has its own deadline and fallback; a retried command would only arrive late.
    maxRetriesPerRequest: 0,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    // Commands issued in one tick go out as one pipeline (one write, one round trip), also in a
    // cluster where ioredis groups them per node.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [...UNBATCHED_COMMANDS],
    retryStrategy: (times: number) => backoffDelay(times, backoff),
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(password === undefined ? {} : { password }),
  };
  const first = target.nodes[0];
  if (first === undefined) throw new Error("a state store target needs at least one node");
  if (target.mode === "standalone") {
    return new Redis({
      ...common,
      host: first.host,
      port: first.port,
      db: target.db,
      // The certificate is checked against the host (name or IP address) by Node's TLS; the CA
      // is the system's store plus NODE_EXTRA_CA_CERTS (docs/shared-state.md, "TLS"). A server
      // name (SNI) may only be a DNS name: an IP address there is refused by RFC 6066.
      ...(target.tls ? { tls: isIP(first.host) === 0 ? { servername: first.host } : {} } : {}),
    });
  }
  return new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: [...UNBATCHED_COMMANDS],
      clusterRetryStrategy: (times: number) => backoffDelay(times, backoff),
      redisOptions: { ...common, ...(target.tls ? { tls: {} } : {}) },
    },
  );
}
