/**
 * The invalidation side of the shared bindings (docs/shared-state.md): a second connection
 * subscribed to the channel `PREFIX invalidate`, on which the bind and delete scripts publish
 * `[replica, pool, stored key, member or null]` whenever they change a binding that existed.
 * Another replica's message replaces (or drops) the local cached copy, so a rebind after a member
 * failure is not undone by a stale cache. On a Redis Cluster the subscription sits on one node and
 * receives what any node publishes (the cluster bus broadcasts it).
 *
 * Publish/subscribe keeps no backlog: after the subscription comes back, `onResubscribed` is
 * called so that every cached entry is checked again against the store.
 */
import type { Client, StoreConnection } from "./store-connection.js";
import type { StoreLink } from "./store-link.js";

export class InvalidationSubscriber {
  private readonly sub: Client;

  constructor(
    connection: StoreConnection,
    private readonly link: StoreLink,
    /** Another replica changed `storedKey` of `pool` to `member` (undefined: removed). */
    private readonly apply: (pool: string, storedKey: string, member: string | undefined) => void,
    private readonly onResubscribed: () => void,
  ) {
    const sub = connection.duplicate();
    this.sub = sub;
    let subscribedOnce = false;
    sub.on("ready", () => {
      sub.subscribe(link.channel).catch(() => {
        // Retried on the next "ready".
      });
      // Messages sent while the subscription was gone are lost: check every cached entry again.
      if (subscribedOnce) this.onResubscribed();
      subscribedOnce = true;
    });
    sub.on("message", (channel: string, message: string) => {
      if (channel !== link.channel) return;
      try {
        this.onMessage(message);
      } catch (err) {
        link.log.debug({ err }, "state store: ignored a malformed invalidation message");
      }
    });
    sub.connect().catch(() => {
      // Retried with backoff by the client.
    });
  }

  close(): void {
    this.sub.disconnect();
  }

  private onMessage(message: string): void {
    const parsed: unknown = JSON.parse(message);
    if (!Array.isArray(parsed) || parsed.length !== 4) return;
    const [from, pool, storedKey, member] = parsed as [unknown, unknown, unknown, unknown];
    if (from === this.link.replicaId || typeof pool !== "string" || typeof storedKey !== "string") return;
    if (member !== null && typeof member !== "string") return;
    this.apply(pool, storedKey, member ?? undefined);
  }
}
