/**
 * Fault containment on the data path: a throw in a socket callback is a bug, and a bug costs the
 * one connection, flow or request it happened in — never the process. It is logged at error with
 * the code `SLB_ERR_DATA_INTERNAL` and counted in `stickylb_internal_errors_total{where}`.
 *
 * Use {@link guard} around a callback given to a socket or server (`socket.on("data", guard(…))`)
 * where calls are rare enough for a wrapper (connect, close, timeout, a datagram of a new flow);
 * on a hot path write the `try`/`catch` inline and call {@link reportFault} from the `catch`.
 */
import type { Logger } from "../core/log.js";

/** Where a fault happened: the `where` label. */
export type FaultSite = "tcp" | "udp" | "upgrade" | "http_client" | "http_member";

export const FAULT_SITES: readonly FaultSite[] = ["tcp", "udp", "upgrade", "http_client", "http_member"];

/** Faults by site, for the whole process (owned by the runtime, read by the metrics). */
export class FaultCounters {
  readonly bySite: Record<FaultSite, number> = { tcp: 0, udp: 0, upgrade: 0, http_client: 0, http_member: 0 };
}

/** What reporting a fault needs: the data path context has both. */
export interface FaultSink {
  readonly log: Logger;
  readonly faults: FaultCounters;
}

/** Counts and logs a fault; the caller ends what it was serving. Never throws. */
export function reportFault(
  sink: FaultSink,
  where: FaultSite,
  err: unknown,
  fields?: Record<string, unknown>,
): void {
  sink.faults.bySite[where]++;
  try {
    sink.log.error(
      { ...fields, err, where, code: "SLB_ERR_DATA_INTERNAL" },
      "internal error: one connection ended",
    );
  } catch {
    // A logger that throws must not turn one fault into a crash.
  }
}

/**
 * Wraps a callback: a throw inside is reported and `end` is called to close what the callback
 * served (a throw from `end` is reported too, and swallowed).
 */
export function guard<A extends unknown[]>(
  sink: FaultSink,
  where: FaultSite,
  end: () => void,
  fn: (...args: A) => void,
): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch (err) {
      reportFault(sink, where, err);
      try {
        end();
      } catch (again) {
        reportFault(sink, where, again);
      }
    }
  };
}
