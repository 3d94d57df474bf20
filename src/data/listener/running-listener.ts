import type { Socket } from "node:net";
import type { HttpListenerCounters } from "../proxy/http-counters.js";
import type { TcpListenerCounters } from "../proxy/tcp-proxy.js";
import type { UdpListenerCounters } from "../proxy/udp-counters.js";
import type { Snapshot } from "../snapshot.js";
import type { ListenerReport } from "./listener-report.js";
import type { LiveLabels } from "./live-labels.js";

/** The counters a listener keeps, by protocol. */
export type ListenerCounters = TcpListenerCounters | HttpListenerCounters | UdpListenerCounters;

/**
 * A listener socket that is bound and serving. The listener set keeps one per bind key across
 * snapshots; the listener reads its model from the current snapshot for every new client.
 */
export interface RunningListener {
  readonly bindKey: string;
  /** The port actually bound (differs from the model's when it asked for port 0 in tests). */
  readonly port: number;
  /** Stops accepting new clients; open connections continue. */
  stopAccepting(): Promise<void>;
  /** Open client connections (TCP/HTTP) or flows (UDP). */
  openCount(): number;
  /**
   * A new snapshot keeps this listener (same bind key): apply what may change without a new
   * socket (HTTPS certificates). Called by the listener set after each swap.
   */
  update?(snapshot: Snapshot): void;
  /** Closes every open connection or flow now. */
  closeAll(): void;
  /** The listener's own counters (tests read them directly). */
  readonly counters?: ListenerCounters;
  /** The counters as declared for the admin API. */
  report(): ListenerReport;
  /** Drops labelled counter rows of pools and members that are gone (HTTP: requests, durations). */
  forgetSeries?(live: LiveLabels): void;
  /**
   * Injected mode only (TCP, HTTP, HTTPS in a worker): serves a connection that the primary
   * accepted. `carriedAddress` is the client address of a PROXY header the primary already read;
   * `leftover` the bytes it read past that header, which come first.
   */
  accept?(socket: Socket, carriedAddress?: string, leftover?: Buffer): void;
}
