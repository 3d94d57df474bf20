/**
 * The demo's configuration, built in code: one listener of every kind in front of the three demo
 * backends, each with the stickiness it demonstrates. It goes through `Runtime.apply` like any
 * configuration file would.
 */
import { randomBytes } from "node:crypto";
import { DEFAULT_COOKIE } from "../control/config/native-persistence.js";
import type {
  Algorithm,
  ConfigModel,
  HealthMonitor,
  ListenerModel,
  MemberModel,
  PersistenceType,
  PoolModel,
  Protocol,
} from "../core/model.js";
import { DEFAULT_MAX_BINDINGS, DEFAULT_MAX_FLOWS } from "../core/model.js";
import type { DemoBackend } from "./demo-backends.js";

/** One demo listener: what it shows, and the command a user can paste to try it. */
export interface DemoListener {
  readonly name: string;
  readonly protocol: Protocol;
  readonly title: string;
  /** Which backend port the pool's members use. */
  readonly backendPort: (b: DemoBackend) => number;
  readonly algorithm: Algorithm;
  readonly persistence?: { type: PersistenceType; cookieName?: string };
  readonly monitor?: "HTTP" | "TCP";
}

type DemoPersistence = NonNullable<DemoListener["persistence"]>;

/** An HTTP demo listener: round robin over the members' `backendPort`, HTTP health checks. */
function httpDemo(
  name: string,
  title: string,
  backendPort: DemoListener["backendPort"],
  persistence: DemoPersistence,
): DemoListener {
  return {
    name,
    protocol: "HTTP",
    title,
    backendPort,
    algorithm: "ROUND_ROBIN",
    persistence,
    monitor: "HTTP",
  };
}

/** A TCP demo listener: the members' TCP echo port, TCP health checks. */
function tcpDemo(
  name: string,
  title: string,
  algorithm: Algorithm,
  persistence?: DemoPersistence,
): DemoListener {
  return {
    name,
    protocol: "TCP",
    title,
    backendPort: (b) => b.tcpPort,
    algorithm,
    ...(persistence === undefined ? {} : { persistence }),
    monitor: "TCP",
  };
}

export const DEMO_LISTENERS: readonly DemoListener[] = [
  httpDemo("http-cookie", "HTTP, HTTP_COOKIE: stickylb inserts the STICKYLB cookie", (b) => b.httpPort, {
    type: "HTTP_COOKIE",
  }),
  httpDemo(
    "http-app-cookie",
    "HTTP, APP_COOKIE: stickylb learns the backend's JSESSIONID",
    (b) => b.sessionPort,
    {
      type: "APP_COOKIE",
      cookieName: "JSESSIONID",
    },
  ),
  tcpDemo("tcp-hash", "TCP, SOURCE_IP algorithm: a consistent hash of your IP", "SOURCE_IP"),
  tcpDemo("tcp-persistence", "TCP, ROUND_ROBIN + SOURCE_IP persistence: a binding table", "ROUND_ROBIN", {
    type: "SOURCE_IP",
  }),
  {
    name: "udp",
    protocol: "UDP",
    title: "UDP, ROUND_ROBIN + SOURCE_IP persistence",
    backendPort: (b) => b.udpPort,
    algorithm: "ROUND_ROBIN",
    persistence: { type: "SOURCE_IP" },
  },
];

const SOURCE = { file: "(demo)", object: "LoadBalancer/demo" };
const PERSISTENCE_TIMEOUT_MS = 30 * 60_000;

function monitorOf(type: "HTTP" | "TCP"): HealthMonitor {
  return {
    type,
    delayMs: 5000,
    timeoutMs: 2000,
    maxRetries: 2,
    maxRetriesDown: 2,
    urlPath: "/healthz",
    expectedCodes: [[200, 200]],
  };
}

/** The demo configuration; `ports` gives each listener's port by name. */
export function demoModel(
  backends: readonly DemoBackend[],
  ports: ReadonlyMap<string, number>,
  address = "127.0.0.1",
): ConfigModel {
  const listeners: ListenerModel[] = [];
  const pools: PoolModel[] = [];
  for (const d of DEMO_LISTENERS) {
    const l4 = d.protocol === "TCP" || d.protocol === "UDP";
    listeners.push({
      name: d.name,
      protocol: d.protocol,
      address,
      port: ports.get(d.name) ?? 0,
      defaultPool: d.name,
      rules: [],
      tls: [],
      proxyProtocol: false,
      timeouts: { idleMs: l4 ? 300_000 : 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
      maxFlows: DEFAULT_MAX_FLOWS,
      accessLog: true,
      source: SOURCE,
    });
    const members: MemberModel[] = backends.map((b) => ({
      name: b.name,
      address: b.address,
      port: d.backendPort(b),
      weight: 1,
      draining: false,
    }));
    pools.push({
      name: d.name,
      algorithm: d.algorithm,
      ...(d.persistence === undefined
        ? {}
        : {
            sessionPersistence: {
              type: d.persistence.type,
              persistenceTimeoutMs: PERSISTENCE_TIMEOUT_MS,
              cookieName: d.persistence.cookieName ?? "STICKYLB",
              cookie: DEFAULT_COOKIE,
              maxBindings: DEFAULT_MAX_BINDINGS,
            },
          }),
      ...(d.monitor === undefined ? {} : { healthMonitor: monitorOf(d.monitor) }),
      members,
      source: SOURCE,
    });
  }
  // A fresh secret per run: the demo writes nothing to the state folder.
  return { listeners, pools, cookieSecret: { value: randomBytes(32).toString("hex") } };
}
