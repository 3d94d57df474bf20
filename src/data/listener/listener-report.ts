import type { DurationSeries } from "../proxy/request-durations.js";
import type { UdpListenerCounters } from "../proxy/udp-flows.js";

/** One row of `stickylb_requests_total{listener,pool,member,code}`. */
export interface RequestCount {
  readonly pool: string;
  /** `ADDRESS:PORT`, or empty when no member answered (404, 503, 502…). */
  readonly member: string;
  readonly code: number;
  count: number;
}

/**
 * The pools and members that metrics may still name: pools configured now or with members still
 * draining, and members the registry still holds (draining ones included). A listener drops its
 * rows for anything else, so that its series (and `/metrics`) do not grow as members come and go.
 */
export interface LiveLabels {
  hasPool(pool: string): boolean;
  hasMember(pool: string, member: string): boolean;
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
