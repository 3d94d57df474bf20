import type { Protocol } from "../../core/model.js";
import { startHttpListener } from "./http-listener.js";
import type { ListenerFactory } from "./listener-set.js";
import { startTcpListener } from "./tcp-listener.js";
import { startUdpListener } from "./udp-listener.js";

/** One factory per protocol; a new protocol is one entry here. */
export const LISTENER_FACTORIES: ReadonlyMap<Protocol, ListenerFactory> = new Map<Protocol, ListenerFactory>([
  ["TCP", startTcpListener],
  ["HTTP", startHttpListener],
  ["HTTPS", startHttpListener],
  ["UDP", startUdpListener],
]);
