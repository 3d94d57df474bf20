/**
 * Timeout annotations (docs/reference/annotations.md), in seconds: `keepalive_timeout` is the idle timeout (HTTP
 * keep-alive, or a TCP connection / UDP flow), `client_timeout` and `member_timeout` the HTTP
 * request and response timeouts. Ranges follow CCE's ELB: idle 1–4000 s, the others 1–300 s.
 */
import type { Protocol, Timeouts } from "../../core/model.js";
import { defaultTimeouts } from "../config/index.js";
import { ANNOTATION, rawAnnotation, readInteger } from "./annotations.js";
import type { ObjectReport } from "./report.js";

export interface TimeoutAnnotations {
  readonly idleS?: number;
  readonly clientS?: number;
  readonly memberS?: number;
  readonly ok: boolean;
}

/** Reads the three annotations once per object; `l7` says whether any HTTP listener reads them. */
export function readTimeoutAnnotations(report: ObjectReport, l7: boolean): TimeoutAnnotations {
  let ok = true;
  const read = (name: string, max: number): number | undefined => {
    const raw = rawAnnotation(report, name);
    if (raw === undefined) return undefined;
    const value = readInteger(raw.at, raw.value, 1, max, "seconds");
    if (value === undefined) ok = false;
    return value;
  };
  const idleS = read(ANNOTATION.keepaliveTimeout, 4000);
  const clientS = read(ANNOTATION.clientTimeout, 300);
  const memberS = read(ANNOTATION.memberTimeout, 300);
  if (!l7) {
    for (const name of [ANNOTATION.clientTimeout, ANNOTATION.memberTimeout]) {
      if (rawAnnotation(report, name) !== undefined)
        report.warn(
          ["metadata", "annotations", name],
          "has no effect on TCP and UDP ports (it applies to HTTP and HTTPS listeners); ignored",
          "SLB_ERR_K8S_NO_EFFECT",
        );
    }
  }
  return {
    ...(idleS === undefined ? {} : { idleS }),
    ...(clientS === undefined ? {} : { clientS }),
    ...(memberS === undefined ? {} : { memberS }),
    ok,
  };
}

/** The listener timeouts: defaults of the protocol (HTTP 60 s idle, TCP/UDP 300 s), then the annotations. */
export function timeoutsFor(protocol: Protocol, given: TimeoutAnnotations): Timeouts {
  const base = defaultTimeouts(protocol);
  const l7 = protocol === "HTTP" || protocol === "HTTPS";
  return {
    idleMs: given.idleS === undefined ? base.idleMs : given.idleS * 1000,
    clientMs: l7 && given.clientS !== undefined ? given.clientS * 1000 : base.clientMs,
    memberMs: l7 && given.memberS !== undefined ? given.memberS * 1000 : base.memberMs,
    connectMs: base.connectMs,
  };
}
