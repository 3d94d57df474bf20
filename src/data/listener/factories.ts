import type { Protocol } from "../../core/model.js";
import type { ListenerFactory } from "./listener-set.js";
import { startTcpListener } from "./tcp-listener.js";

/** One factory per protocol; a new protocol is one entry here. */
export const LISTENER_FACTORIES: ReadonlyMap<Protocol, ListenerFactory> = new Map<Protocol, ListenerFactory>([
  ["TCP", startTcpListener],
]);
