/**
 * The active probes of docs/reference/behaviour.md#health, one per monitor type. A probe is a plain async function so that
 * the health manager's state machine and schedule can be tested with fake probes, and each probe
 * with a real socket on loopback.
 *
 * Contract: a probe never rejects, and settles promptly once `signal` aborts (the manager aborts at
 * the monitor's `timeout`). What an abort means is the probe's call: a TCP or HTTP probe that has
 * not succeeded by then failed; a UDP_CONNECT probe that heard no "port unreachable" by then passed.
 */
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { endpointOf } from "../core/member.js";
import type { HealthMonitor, MonitorType } from "../core/model.js";

export interface ProbeTarget {
  readonly address: string;
  readonly port: number;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** What happened, for the health log line: `connected`, `HTTP 503`, `ECONNREFUSED`, `timeout`. */
  readonly detail: string;
}

export type Probe = (
  target: ProbeTarget,
  monitor: HealthMonitor,
  signal: AbortSignal,
) => Promise<ProbeResult>;

export type ProbeSet = Readonly<Record<MonitorType, Probe>>;

const TIMEOUT: ProbeResult = { ok: false, detail: "timeout" };

/**
 * Runs `body` with a `settle` that resolves once, detaches the abort listener and runs `cleanup`.
 * `onAbort` is the result an abort means for this probe.
 */
function settleOnce(
  signal: AbortSignal,
  onAbort: ProbeResult,
  body: (settle: (r: ProbeResult) => void) => () => void,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    let cleanup: () => void = () => {};
    const abort = (): void => settle(onAbort);
    const settle = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", abort);
      cleanup();
      resolve(r);
    };
    if (signal.aborted) {
      settle(onAbort);
      return;
    }
    signal.addEventListener("abort", abort, { once: true });
    try {
      cleanup = body(settle);
    } catch (err) {
      settle({ ok: false, detail: (err as Error).message });
    }
    if (done) cleanup();
  });
}

function errorDetail(err: NodeJS.ErrnoException): string {
  return err.code ?? err.message;
}

/** TCP: the member accepts a connection. */
export const tcpProbe: Probe = (target, _monitor, signal) =>
  settleOnce(signal, TIMEOUT, (settle) => {
    const socket = net.connect({ host: target.address, port: target.port });
    socket.once("connect", () => settle({ ok: true, detail: "connected" }));
    socket.once("error", (err) => settle({ ok: false, detail: errorDetail(err) }));
    return () => socket.destroy();
  });

/** Whether a status code is in the monitor's `expectedCodes` ranges (inclusive). */
export function codeAccepted(code: number, ranges: HealthMonitor["expectedCodes"]): boolean {
  for (const [from, to] of ranges) if (code >= from && code <= to) return true;
  return false;
}

function httpLikeProbe(secure: boolean): Probe {
  return (target, monitor, signal) =>
    settleOnce(signal, TIMEOUT, (settle) => {
      const options: https.RequestOptions = {
        host: target.address,
        port: target.port,
        method: "GET",
        path: monitor.urlPath,
        // The Host a client addressing the member directly would send.
        headers: { host: endpointOf(target.address, target.port), "user-agent": "stickylb-health-check" },
        agent: false,
      };
      if (secure) {
        // A health check asks "is it serving", not "is its certificate valid for this address".
        options.rejectUnauthorized = false;
        if (net.isIP(target.address) === 0) options.servername = target.address;
      }
      const req = (secure ? https : http).request(options, (res) => {
        const code = res.statusCode ?? 0;
        res.resume();
        settle(
          codeAccepted(code, monitor.expectedCodes)
            ? { ok: true, detail: `HTTP ${code}` }
            : { ok: false, detail: `HTTP ${code}` },
        );
      });
      req.once("error", (err) => settle({ ok: false, detail: errorDetail(err) }));
      req.end();
      return () => req.destroy();
    });
}

/** HTTP: `GET urlPath` answers with a status in `expectedCodes`. */
export const httpProbe: Probe = httpLikeProbe(false);

/** HTTPS: as HTTP over TLS, certificate not verified. */
export const httpsProbe: Probe = httpLikeProbe(true);

const UDP_PAYLOAD = Buffer.from("stickylb-health-check\n");
const UDP_SILENT: ProbeResult = { ok: true, detail: "no port unreachable within the timeout" };

/**
 * UDP_CONNECT: one datagram on a connected socket. An ICMP "port unreachable" comes back as
 * ECONNREFUSED and means down; a reply, or silence until the timeout, means up (as cloud load
 * balancers define their UDP check: UDP has no handshake to wait for).
 */
export const udpConnectProbe: Probe = (target, _monitor, signal) =>
  settleOnce(signal, UDP_SILENT, (settle) => {
    const socket = dgram.createSocket(net.isIPv6(target.address) ? "udp6" : "udp4");
    const fail = (err: NodeJS.ErrnoException): void =>
      settle({
        ok: false,
        detail: err.code === "ECONNREFUSED" ? "ECONNREFUSED (port unreachable)" : errorDetail(err),
      });
    socket.on("error", fail);
    socket.on("message", () => settle({ ok: true, detail: "reply" }));
    socket.connect(target.port, target.address, (err?: Error) => {
      if (err) {
        fail(err);
        return;
      }
      socket.send(UDP_PAYLOAD, (sendErr) => {
        if (sendErr) fail(sendErr);
      });
    });
    return () => {
      try {
        socket.close();
      } catch {
        // Closed already.
      }
    };
  });

export const DEFAULT_PROBES: ProbeSet = {
  TCP: tcpProbe,
  HTTP: httpProbe,
  HTTPS: httpsProbe,
  UDP_CONNECT: udpConnectProbe,
};
