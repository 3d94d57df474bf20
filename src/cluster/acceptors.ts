import * as net from "node:net";
import type { Logger } from "../core/log.js";
import { clientIpKey } from "../core/member.js";
import type { ConfigModel, ListenerModel } from "../core/model.js";
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
 */
export class Acceptors {
  private readonly bound = new Map<string, Acceptor>();
  /** The current model of each listener, read per connection (a reload may toggle proxyProtocol). */
  private models = new Map<string, ListenerModel>();

  constructor(
    private readonly handoff: Handoff,
    private readonly log: Logger,
  ) {}

  /** Binds new listeners, closes removed ones; rejects with the first bind error after trying all. */
  async reconcile(model: ConfigModel): Promise<void> {
    const wanted = new Map<string, ListenerModel>();
    for (const l of model.listeners) if (familyOf(l.protocol) === "tcp") wanted.set(bindKeyOf(l), l);
    this.models = wanted;
    const errors: Error[] = [];
    for (const [key, l] of wanted) {
      if (this.bound.has(key)) continue;
      try {
        this.bound.set(key, await this.bind(key, l));
        this.log.info(
          { listener: l.name, protocol: l.protocol, address: l.address, port: l.port },
          "listener bound",
        );
      } catch (err) {
        errors.push(new Error(`listener ${l.name} (${l.address}:${l.port}): ${(err as Error).message}`));
      }
    }
    this.closeRemoved(model);
    if (errors[0] !== undefined) throw errors[0];
  }

  /**
   * Stops accepting on listeners that `model` no longer has. A reload calls this before the workers
   * apply the model (so that no connection reaches a worker that dropped its listener) and
   * `reconcile` after (so that a new listener's connections find it in place).
   */
  closeRemoved(model: ConfigModel): void {
    const keep = new Set(model.listeners.map((l) => bindKeyOf(l)));
    for (const [key, a] of this.bound) {
      if (keep.has(key)) continue;
      a.server.close();
      this.bound.delete(key);
      this.log.info({ bindKey: key }, "listener removed");
    }
  }

  /** The port bound for a listener (differs from the model's only when it asked for port 0). */
  portOf(bindKey: string): number | undefined {
    return this.bound.get(bindKey)?.port;
  }

  /** Stops accepting on every listener (SIGTERM); connections already handed over continue. */
  close(): void {
    for (const a of this.bound.values()) a.server.close();
    this.bound.clear();
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
          this.log.warn(
            { listener: model.name, client: socket.remoteAddress, reason: err.message },
            "PROXY header refused",
          );
          socket.destroy();
        },
      );
    });
    server.on("error", (err) => this.log.error({ err, listener: initial.name }, "listener error"));
    await listen(server, initial.address, initial.port);
    return { server, port: (server.address() as net.AddressInfo).port };
  }
}
