/**
 * The configuration model: what a validated configuration says, as plain immutable data.
 *
 * Both configuration sources (native `stickylb/v1 LoadBalancer` documents and Kubernetes
 * objects) produce this model; the snapshot builder turns it into runtime objects. Durations are
 * milliseconds. Nothing here does I/O.
 */

export type Protocol = "TCP" | "UDP" | "HTTP" | "HTTPS";
export type Algorithm = "ROUND_ROBIN" | "LEAST_CONNECTIONS" | "SOURCE_IP";
export type PersistenceType = "SOURCE_IP" | "HTTP_COOKIE" | "APP_COOKIE" | "HTTP_HEADER";
export type PathType = "Prefix" | "Exact";
export type SameSite = "Strict" | "Lax" | "None";
export type SecureMode = "auto" | "always" | "never";
export type MonitorType = "TCP" | "HTTP" | "HTTPS" | "UDP_CONNECT";

/** Where a piece of configuration came from, so runtime logs can point back at it. */
export interface SourceRef {
  /** File path (or `kubernetes` in controller mode). */
  readonly file: string;
  /** `KIND/NAME` or `KIND/NAMESPACE/NAME`. */
  readonly object: string;
}

export interface Timeouts {
  /** Idle time after which a TCP connection or UDP flow is closed; HTTP keep-alive idle. */
  readonly idleMs: number;
  /** HTTP: the longest a client may take to send a request head / body chunk. */
  readonly clientMs: number;
  /** HTTP: the longest a member may stay silent before a response head (504). */
  readonly memberMs: number;
  /** Connect timeout towards a member. */
  readonly connectMs: number;
}

export interface TlsCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM contents when they do not come from files (Kubernetes Secrets). */
  readonly certPem?: string;
  readonly keyPem?: string;
}

export interface Rule {
  /** Host to match, lower case, without port; undefined matches any host. */
  readonly host?: string;
  /** Path to match; undefined matches any path. */
  readonly path?: string;
  readonly pathType: PathType;
  readonly pool: string;
}

export interface ListenerModel {
  readonly name: string;
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
  /** Pool used when no rule matches; TCP and UDP listeners always have one. */
  readonly defaultPool?: string;
  readonly rules: readonly Rule[];
  readonly tls: readonly TlsCertificate[];
  readonly proxyProtocol: boolean;
  /**
   * TCP/UDP with the nftables data plane: members see the client's own address (no source NAT
   * towards them), so they must route replies back through the load balancer. Absent means false.
   */
  readonly preserveClientIp?: boolean;
  readonly timeouts: Timeouts;
  /** UDP: bound of the flow table. */
  readonly maxFlows: number;
  readonly accessLog: boolean;
  readonly source: SourceRef;
}

export interface CookieAttributes {
  readonly path: string;
  /** Empty string means no Domain attribute. */
  readonly domain: string;
  readonly sameSite: SameSite;
  readonly secure: SecureMode;
  readonly httpOnly: boolean;
  /** `session`: no Max-Age/Expires (a browser-session cookie); the server still enforces both timeouts. */
  readonly maxAge?: "session";
}

export interface SessionPersistence {
  readonly type: PersistenceType;
  readonly persistenceTimeoutMs: number;
  /**
   * HTTP_COOKIE and HTTP_HEADER: the longest a session lives, counted from its first token,
   * however active the client (at least persistenceTimeoutMs).
   */
  readonly absoluteTimeoutMs?: number;
  /** HTTP_HEADER: the request/response header that carries the session token. */
  readonly headerName?: string;
  /** APP_COOKIE: the application's cookie; HTTP_COOKIE: the inserted cookie (default STICKYLB). */
  readonly cookieName: string;
  readonly cookie: CookieAttributes;
  /** Bound of the binding table (SOURCE_IP, APP_COOKIE). */
  readonly maxBindings: number;
}

export interface HealthMonitor {
  readonly type: MonitorType;
  readonly delayMs: number;
  readonly timeoutMs: number;
  /** Consecutive successes to come back up. */
  readonly maxRetries: number;
  /** Consecutive failures to go down. */
  readonly maxRetriesDown: number;
  readonly urlPath: string;
  /** Accepted status codes, as inclusive ranges. */
  readonly expectedCodes: readonly (readonly [number, number])[];
}

export interface MemberModel {
  readonly address: string;
  readonly port: number;
  /** 0–100; 0 takes no new clients. */
  readonly weight: number;
  /** Kubernetes terminating-but-serving endpoints: keep existing bindings, take no new ones. */
  readonly draining: boolean;
  /** A name for people (native `name`, or the Pod's name); never a metric label. */
  readonly name?: string;
}

export interface PoolModel {
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly sessionPersistence?: SessionPersistence;
  readonly healthMonitor?: HealthMonitor;
  readonly members: readonly MemberModel[];
  readonly source: SourceRef;
}

export interface CookieSecretModel {
  readonly env?: string;
  readonly value?: string;
  /** `--cookie-secret-file`: a file holding the key (a mounted Kubernetes Secret). */
  readonly file?: string;
}

/** The shared state store (docs/shared-state.md); the `--state-store` flag wins over its URL. */
export interface StateStoreModel {
  readonly url: string;
  readonly keyPrefix: string;
  /** Absolute path of a file holding the store's password. */
  readonly passwordFile?: string;
}

export interface AdminModel {
  readonly address: string;
  readonly port: number;
}

/** The whole configuration: every document of every file, merged. */
export interface ConfigModel {
  readonly listeners: readonly ListenerModel[];
  readonly pools: readonly PoolModel[];
  readonly admin?: AdminModel;
  readonly cookieSecret?: CookieSecretModel;
  readonly stateStore?: StateStoreModel;
}

export const DEFAULT_HTTP_COOKIE_NAME = "STICKYLB";
/**
 * The longest `absoluteTimeout`: 400 days, the longest a browser keeps a cookie (RFC 6265bis
 * caps Max-Age and Expires there), so a cookie can always live until the session's deadline. The
 * token's base-36 seconds carry far more.
 */
export const MAX_ABSOLUTE_TIMEOUT_MS = 400 * 86_400_000;

/**
 * Whether a persistence type carries stickylb's own authenticated token (the inserted cookie, or
 * the header of header persistence), and so needs the cookie key.
 */
export function carriesToken(persistence: SessionPersistence | undefined): boolean {
  return persistence?.type === "HTTP_COOKIE" || persistence?.type === "HTTP_HEADER";
}
/** Default bound of binding tables (SOURCE_IP and APP_COOKIE). */
export const DEFAULT_MAX_BINDINGS = 1_000_000;
/** Default bound of a UDP listener's flow table. */
export const DEFAULT_MAX_FLOWS = 100_000;
