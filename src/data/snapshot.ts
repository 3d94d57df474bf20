import type { ConfigModel, ListenerModel, Protocol } from "../core/model.js";
import type { CookieCodec } from "./affinity/cookie-codec.js";
import type { SniTable } from "./listener/tls-contexts.js";
import type { RouteMatcher } from "./router/route-matcher.js";
import type { PoolRuntime } from "./upstream/pool-runtime.js";

/**
 * What a listener needs beyond its model, compiled when the snapshot is built (never on the first
 * request or handshake): a bad certificate refuses the whole configuration instead of failing
 * handshakes later.
 */
export interface CompiledListener {
  readonly model: ListenerModel;
  /** HTTP/HTTPS host and path routing; TCP/UDP listeners route everything to their default pool. */
  readonly routes: RouteMatcher;
  /** HTTPS: the certificates, read and checked, and the SNI choice between them. */
  readonly sni: SniTable | undefined;
}

/**
 * One immutable configuration as the data path sees it: listeners by bind key and pools with
 * their runtime members, every derived table already built. Built by the runtime
 * (`runtime/build-snapshot.ts`), read by listeners per connection or request.
 */
export interface Snapshot {
  readonly version: number;
  readonly model: ConfigModel;
  /** Listener models by {@link bindKeyOf}. */
  readonly listeners: ReadonlyMap<string, ListenerModel>;
  /** The compiled form of each listener, by {@link bindKeyOf}. */
  readonly compiled: ReadonlyMap<string, CompiledListener>;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** Key of the HTTP_COOKIE MAC; undefined when no pool inserts cookies. */
  readonly cookieKey: Buffer | undefined;
  /** The codec over {@link cookieKey}, built once per snapshot. */
  readonly cookieCodec: CookieCodec | undefined;
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
