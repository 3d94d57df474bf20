import type { ConfigModel, ListenerModel, Protocol } from "../core/model.js";
import type { PoolRuntime } from "./upstream/pool-runtime.js";

/**
 * One immutable configuration as the data path sees it: listeners by bind key and pools with
 * their runtime members. Built by control/snapshot, read by listeners per connection or request.
 */
export interface Snapshot {
  readonly version: number;
  readonly model: ConfigModel;
  /** Listener models by {@link bindKeyOf}. */
  readonly listeners: ReadonlyMap<string, ListenerModel>;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** Key of the HTTP_COOKIE MAC; undefined when no pool inserts cookies. */
  readonly cookieKey: Buffer | undefined;
}

/** TCP, HTTP and HTTPS share the TCP port space; UDP has its own. */
export function familyOf(protocol: Protocol): "tcp" | "udp" {
  return protocol === "UDP" ? "udp" : "tcp";
}

/**
 * What identifies a bound socket across reloads: a listener that keeps its protocol, address and
 * port keeps its socket and open connections even when renamed or otherwise changed.
 */
export function bindKeyOf(listener: Pick<ListenerModel, "protocol" | "address" | "port">): string {
  return `${listener.protocol}|${listener.address}|${listener.port}`;
}
