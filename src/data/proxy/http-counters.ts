import type { ListenerReport, RequestCount } from "../listener/listener-report.js";
import type { LiveLabels } from "../listener/live-labels.js";

export type { RequestCount };

import { RequestDurations } from "./request-durations.js";

/** Status classes of stickylb's own and forwarded responses. */
export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx";

function classOf(status: number): StatusClass {
  if (status < 200) return "1xx";
  if (status < 300) return "2xx";
  if (status < 400) return "3xx";
  if (status < 500) return "4xx";
  return "5xx";
}

/**
 * Per-listener counters of the HTTP data path (the HTTP counterpart of TcpListenerCounters). Each
 * error case of docs/reference/behaviour.md#http-forwarding has its own counter; `requests` keeps the labelled series of docs/reference/admin-api.md.
 */
export class HttpListenerCounters {
  /** Client connections accepted. */
  connections = 0;
  /** Responses by status class, whoever produced them. */
  readonly responses: Record<StatusClass, number> = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  /** Connections closed for a missing or malformed PROXY protocol header. */
  proxyHeaderRejected = 0;
  /** 404: no rule and no default pool. */
  noRoute = 0;
  /** 503: no eligible member. */
  noMember = 0;
  /** Connect failures (refused, timed out) towards members. */
  connectFailures = 0;
  /** Connections that broke after the request was sent and before any response byte. */
  resets = 0;
  /** Second attempts on another member. */
  retries = 0;
  /** 502 answers. */
  badGateway = 0;
  /** 504 answers: member silent past `timeouts.member`. */
  memberTimeouts = 0;
  /** Responses cut after their head (member broke mid-body). */
  responseAborts = 0;
  /** 400 answers to malformed requests (parser errors and ambiguous framing). */
  malformed = 0;
  /** 431 answers: request head over 64 KiB. */
  headerTooLarge = 0;
  /** Client connections closed for being too slow (`timeouts.client`). */
  clientTimeouts = 0;
  /** WebSocket (and other) upgrades relayed. */
  upgrades = 0;
  /** Bytes read from and written to clients, counted when a client connection closes. */
  bytesIn = 0;
  bytesOut = 0;
  /** Durations of completed responses by pool, for `stickylb_request_duration_seconds`. */
  readonly durations = new RequestDurations();
  /** pool → member → code → row: three lookups, no key string built per response. */
  private readonly series = new Map<string, Map<string, Map<number, RequestCount>>>();

  /** Counts a response sent to a client. */
  countResponse(pool: string, member: string, code: number): void {
    this.responses[classOf(code)]++;
    let byMember = this.series.get(pool);
    if (byMember === undefined) {
      byMember = new Map();
      this.series.set(pool, byMember);
    }
    let byCode = byMember.get(member);
    if (byCode === undefined) {
      byCode = new Map();
      byMember.set(member, byCode);
    }
    const row = byCode.get(code);
    if (row !== undefined) row.count++;
    else byCode.set(code, { pool, member, code, count: 1 });
  }

  /**
   * Forgets the rows of members and pools that are gone (after their drain): a member's series
   * would otherwise stay in `/metrics` for the life of the process, one more for every member that
   * ever served here. Rows with no member (stickylb's own answers) go with their pool.
   */
  forget(live: LiveLabels): void {
    for (const [pool, byMember] of this.series) {
      for (const member of byMember.keys()) {
        const kept = member === "" ? pool === "" || live.hasPool(pool) : live.hasMember(pool, member);
        if (!kept) byMember.delete(member);
      }
      if (byMember.size === 0) this.series.delete(pool);
    }
    this.durations.forget(live);
  }

  /** The labelled request counts, for the metrics endpoint. */
  *requests(): Iterable<RequestCount> {
    for (const byMember of this.series.values())
      for (const byCode of byMember.values()) yield* byCode.values();
  }

  /** The counters as the admin API reads them (every counter above is declared here). */
  report(): ListenerReport {
    return {
      unit: "requests",
      connections: this.connections,
      traffic: this.totalResponses,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      events: {
        no_route: this.noRoute,
        no_member: this.noMember,
        connect_failure: this.connectFailures,
        reset: this.resets,
        retry: this.retries,
        bad_gateway: this.badGateway,
        member_timeout: this.memberTimeouts,
        response_abort: this.responseAborts,
        malformed: this.malformed,
        header_too_large: this.headerTooLarge,
        client_timeout: this.clientTimeouts,
        upgrade: this.upgrades,
        proxy_header_rejected: this.proxyHeaderRejected,
      },
      requests: [...this.requests()],
      durations: [...this.durations.series()],
    };
  }

  get totalResponses(): number {
    const r = this.responses;
    return r["1xx"] + r["2xx"] + r["3xx"] + r["4xx"] + r["5xx"];
  }
}
