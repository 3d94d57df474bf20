import type { DurationSeries } from "../proxy/request-durations.js";
import type { UdpListenerCounters } from "../proxy/udp-counters.js";

/** One row of `stickylb_requests_total{listener,pool,member,code}`. */
export interface RequestCount {
  readonly pool: string;
  /** `ADDRESS:PORT`, or empty when no member answered (404, 503, 502…). */
  readonly member: string;
  readonly code: number;
  count: number;
}

/** What one unit of a listener's traffic is: an HTTP response, a TCP connection, a UDP datagram. */
export type TrafficUnit = "requests" | "connections" | "datagrams";

/**
 * A listener's counters as it declares them: one shape for every protocol, so the admin API
 * (metrics, status, dashboard) reads declarations instead of telling counter classes apart. Every
 * counter a listener counts appears here. Built at scrape time; nothing here is on the data path.
 */
export interface ListenerReport {
  readonly unit: TrafficUnit;
  /** Client connections accepted (TCP, HTTP) or flows opened (UDP). */
  readonly connections: number;
  /** Cumulative count of `unit`: the base of the request rate. */
  readonly traffic: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Counted data-path events by name (errors, retries, timeouts): `stickylb_listener_events_total`. */
  readonly events: Readonly<Record<string, number>>;
  /** HTTP: the rows of `stickylb_requests_total`. */
  readonly requests: readonly RequestCount[];
  /** HTTP: request durations by pool (`stickylb_request_duration_seconds`); absent otherwise. */
  readonly durations?: readonly DurationSeries[];
  /** UDP: the flow and datagram counters of the UDP series. */
  readonly udp?: UdpListenerCounters;
}
