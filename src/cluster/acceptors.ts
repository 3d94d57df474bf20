import * as net from "node:net";
import type { Logger } from "../core/log.js";
import { clientIpKey } from "../core/member.js";
import type { ConfigModel, ListenerModel } from "../core/model.js";
import {
  BindRetries,
  type BindState,
  REAL_RETRY_TIMERS,
  type RetryTimers,
} from "../data/listener/bind-retry.js";
import { refuseProxyHeader } from "../data/listener/proxy-protocol.js";
import { listen } from "../data/listener/tcp-listener.js";
import { bindKeyOf, familyOf } from "../data/snapshot.js";
import { readProxyHeaderForHandoff } from "./proxy-handoff.js";

/**
 * Hands an accepted connection to a worker. `clientIp` is the routing key (the PROXY header's
 * address when there is one); `carried` and `leftover` travel with the socket.
 */
export type Handoff = (
  bindKey: string,
  clientIp: string,
  socket: net.Socket,
  carried: string | undefined,
  leftover: Buffer | undefined,
) => void;

interface Acceptor {
  readonly server: net.Server;
  readonly port: number;
}

/**
 * The primary's sockets of `--workers N`: one `net.Server` per TCP, HTTP and HTTPS listener,
 * accepting with `pauseOnConnect` so that not a byte is read here (the handle goes to a worker
 * untouched), except the PROXY protocol header when the listener expects one: the worker is
 * chosen by the client address it carries.
 *
 * As in a single process (docs/operations.md), a listener that cannot bind never takes the others
 * down: its failure is logged once per change, reported by `bindState`, and the bind is retried on
 * the schedule of `bind-retry.ts` for as long as the configuration has the listener.
 */
export class Acceptors {
  private readonly bound = new Map<string, Acceptor>();
  private readonly failed: BindRetries;
  /** The current model of each listener, read per connection (a reload may toggle proxyProtocol). */
  private models = new Map<string, ListenerModel>();
  private stopped = false;

  constructor(
    private readonly handoff: Handoff,
    private readonly log: Logger,
    timers: RetryTimers = REAL_RETRY_TIMERS,
  ) {
    this.failed = new BindRetries(log, timers, (key) => {
      const model = this.models.get(key);
      if (!this.stopped && model !== undefined && this.failed.has(key)) void this.tryBind(key, model);
    });
  }

  /**
   * Binds new listeners (and at once those waiting for a retry: a reload is often the operator's
   * answer to a freed port), closes removed ones. Never rejects for a bind.
   */
  async reconcile(model: ConfigModel): Promise<void> {
    const wanted = new Map<string, ListenerModel>();
    for (const l of model.listeners) if (familyOf(l.protocol) === "tcp") wanted.set(bindKeyOf(l), l);
    this.models = wanted;
    for (const [key, l] of wanted) {
      this.failed.cancel(key);
      await this.tryBind(key, l);
    }
    this.closeRemoved(model);
  }

  /**
   * Stops accepting on listeners that `model` no longer has, and stops their bind retries. A reload
   * calls this before the workers apply the model (so that no connection reaches a worker that
   * dropped its listener) and `reconcile` after (so that a new listener's connections find it in
   * place).
   */
  closeRemoved(model: ConfigModel): void {
    const keep = new Set(model.listeners.map((l) => bindKeyOf(l)));
    for (const key of [...this.models.keys()]) if (!keep.has(key)) this.models.delete(key);
    for (const [key, a] of this.bound) {
      if (keep.has(key)) continue;
      a.server.close();
      this.bound.delete(key);
      this.log.info({ bindKey: key }, "listener removed");
    }
    for (const { key } of [...this.failed.waiting()]) {
      if (keep.has(key)) continue;
      this.failed.drop(key);
      this.log.info({ bindKey: key }, "listener removed; its bind retries stop");
    }
  }

  /** Whether the primary holds the listener's socket, or why not; undefined when it has no such listener. */
  bindState(bindKey: string): BindState | undefined {
    if (this.bound.has(bindKey)) return { bound: true };
    return this.failed.state(bindKey);
  }

  /** The TCP-family listeners of the configuration, by name, and whether each is bound. */
  listenersUp(): { listener: string; up: boolean }[] {
    return [...this.models].map(([key, l]) => ({ listener: l.name, up: this.bound.has(key) }));
  }

  /** The port bound for a listener (differs from the model's only when it asked for port 0). */
  portOf(bindKey: string): number | undefined {
    return this.bound.get(bindKey)?.port;
  }

  /** Stops accepting on every listener (SIGTERM); connections already handed over continue. */
  close(): void {
    this.stopped = true;
    this.failed.dropAll();
    for (const a of this.bound.values()) a.server.close();
    this.bound.clear();
  }

  /** One bind attempt; on failure the listener is reported and its next attempt scheduled. */
  private async tryBind(key: string, l: ListenerModel): Promise<void> {
    if (this.bound.has(key)) return;
    const wanted = () => !this.stopped && this.models.has(key);
    const acceptor = await this.failed.attempt(key, l, () => this.bind(key, l), wanted);
    if (acceptor === undefined) return;
    if (this.stopped || !this.models.has(key)) {
      // A reload removed the listener (or the process stops) while it was binding.
      acceptor.server.close();
      return;
    }
    this.bound.set(key, acceptor);
    const failedAttempts = this.failed.bound(key);
    this.log.info(
      {
        listener: l.name,
        protocol: l.protocol,
        address: l.address,
        port: l.port,
        ...(failedAttempts === undefined ? {} : { failedAttempts }),
      },
      "listener bound",
    );
  }

  private async bind(bindKey: string, initial: ListenerModel): Promise<Acceptor> {
    const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      const model = this.models.get(bindKey) ?? initial;
      if (!model.proxyProtocol) {
        this.handoff(bindKey, clientIpKey(socket.remoteAddress), socket, undefined, undefined);
        return;
      }
      socket.on("error", () => {});
      readProxyHeaderForHandoff(socket, model.timeouts.clientMs).then(
        ({ header, leftover }) => {
          const carried = header.kind === "proxy" ? header.sourceAddress : undefined;
          this.handoff(bindKey, clientIpKey(carried ?? socket.remoteAddress), socket, carried, leftover);
        },
        (err: Error) => {
          refuseProxyHeader(this.log, model.name, socket, err);
        },
      );
    });
    server.on("error", (err) => this.log.error({ err, listener: initial.name }, "listener error"));
    await listen(server, initial.address, initial.port);
    return { server, port: (server.address() as net.AddressInfo).port };
  }
}
