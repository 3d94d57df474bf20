/**
 * One case per validation rule and per error: the exact one-line form of docs/reference/cli.md, with line and
 * column. Each case's YAML follows a 4-line header, so its first line is line 5.
 */
import { describe, expect, test } from "vitest";
import { type LoadResult, loadConfigSources } from "../../../src/control/config/index.js";

const HEADER = "apiVersion: stickylb/v1\nkind: LoadBalancer\nmetadata: {name: t}\nspec:\n";
/** A valid base to add to: pool `p` (plain) and pool `c` (HTTP_COOKIE). */
const POOLS = `  pools:
    - {name: p}
    - {name: c, sessionPersistence: {type: HTTP_COOKIE}}
`;

function load(body: string, files: Record<string, string> = {}): LoadResult {
  return loadConfigSources(
    [
      { file: "lb.yaml", text: HEADER + body },
      ...Object.entries(files).map(([file, text]) => ({ file, text })),
    ],
    {
      checkReadable: (path) =>
        path.endsWith("missing.pem") ? `${path}: no such file or directory` : undefined,
    },
  );
}

interface Case {
  readonly rule: string;
  readonly body: string;
  readonly errors: readonly string[];
}

const LISTENER_CASES: Case[] = [
  {
    rule: "listener port 1–65535",
    body: `  listeners:
    - {name: a, protocol: TCP, port: 0, defaultPool: p}
    - {name: b, protocol: TCP, port: 65536, defaultPool: p}
    - {name: c, protocol: TCP, port: "80", defaultPool: p}
${POOLS}`,
    errors: [
      "lb.yaml:6:32: LoadBalancer/t: spec.listeners[0].port: 0 is out of range (an integer 1–65535)",
      "lb.yaml:7:32: LoadBalancer/t: spec.listeners[1].port: 65536 is out of range (an integer 1–65535)",
      'lb.yaml:8:32: LoadBalancer/t: spec.listeners[2].port: "80" is not valid (an integer 1–65535)',
    ],
  },
  {
    rule: "protocol is one of TCP, UDP, HTTP, HTTPS; name and port are required",
    body: `  listeners:
    - protocol: tcp
      defaultPool: p
${POOLS}`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].name: a required field is missing (a name of 1–63 letters, digits, '-', '_' or '.', starting with a letter or digit)",
      'lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].protocol: "tcp" is not valid (one of TCP, UDP, HTTP, HTTPS)',
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].port: a required field is missing (an integer 1–65535)",
    ],
  },
  {
    rule: "listener address is an IP address",
    body: `  listeners:
    - {name: a, protocol: TCP, address: localhost, port: 80, defaultPool: p}
${POOLS}`,
    errors: [
      'lb.yaml:6:32: LoadBalancer/t: spec.listeners[0].address: "localhost" is not an IP address (an IPv4 or IPv6 address, like 127.0.0.1 or ::1)',
    ],
  },
  {
    rule: "tls only on HTTPS",
    body: `  listeners:
    - name: a
      protocol: HTTP
      port: 80
      defaultPool: p
      tls: [{certFile: c.pem, keyFile: k.pem}]
${POOLS}`,
    errors: [
      "lb.yaml:10:7: LoadBalancer/t: spec.listeners[0].tls: only HTTPS listeners take tls (this listener is HTTP)",
    ],
  },
  {
    rule: "tls required and non-empty on HTTPS",
    body: `  listeners:
    - {name: a, protocol: HTTPS, port: 443, defaultPool: p}
    - {name: b, protocol: HTTPS, port: 444, defaultPool: p, tls: []}
${POOLS}`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].tls: a required field is missing (HTTPS listeners need a list of {certFile, keyFile})",
      "lb.yaml:7:61: LoadBalancer/t: spec.listeners[1].tls: [] is empty (HTTPS listeners need at least one {certFile, keyFile})",
    ],
  },
  {
    rule: "certificate and key files must be readable, relative to the YAML file's folder",
    body: `  listeners:
    - name: a
      protocol: HTTPS
      port: 443
      defaultPool: p
      tls:
        - {certFile: missing.pem}
${POOLS}`,
    errors: [
      "lb.yaml:11:11: LoadBalancer/t: spec.listeners[0].tls[0].keyFile: a required field is missing (a file path)",
      `lb.yaml:11:12: LoadBalancer/t: spec.listeners[0].tls[0].certFile: "missing.pem" cannot be read (${process.cwd()}/missing.pem: no such file or directory)`,
    ],
  },
  {
    rule: "rules only on HTTP/HTTPS",
    body: `  listeners:
    - {name: a, protocol: UDP, port: 53, defaultPool: p, rules: [{pool: p}]}
${POOLS}`,
    errors: [
      "lb.yaml:6:58: LoadBalancer/t: spec.listeners[0].rules: only HTTP and HTTPS listeners take rules (this listener is UDP)",
    ],
  },
  {
    rule: "TCP and UDP listeners need defaultPool",
    body: `  listeners:
    - {name: a, protocol: TCP, port: 80}
${POOLS}`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].defaultPool: a required field is missing (TCP listeners need the name of a pool)",
    ],
  },
  {
    rule: "HTTP listeners need defaultPool or a rule",
    body: `  listeners:
    - {name: a, protocol: HTTP, port: 80, rules: []}
    - {name: b, protocol: HTTP, port: 81, rules: [{path: /x, pool: p}]}
${POOLS}`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].defaultPool: a required field is missing (HTTP listeners need defaultPool or at least one rule)",
    ],
  },
  {
    rule: "rule fields: host without port or wildcard, path starting with /, pathType, pool required",
    body: `  listeners:
    - name: a
      protocol: HTTP
      port: 80
      rules:
        - {host: "example.com:80", pool: p}
        - {host: "*.example.com", pool: p}
        - {path: api, pathType: Regex}
${POOLS}`,
    errors: [
      'lb.yaml:10:12: LoadBalancer/t: spec.listeners[0].rules[0].host: "example.com:80" has a port (the port of the Host header is ignored when matching) (a host name like www.example.com, without port or wildcard)',
      'lb.yaml:11:12: LoadBalancer/t: spec.listeners[0].rules[1].host: "*.example.com" has a wildcard (only exact host names are matched) (a host name like www.example.com, without port or wildcard)',
      "lb.yaml:12:11: LoadBalancer/t: spec.listeners[0].rules[2].pool: a required field is missing (the name of a pool)",
      'lb.yaml:12:12: LoadBalancer/t: spec.listeners[0].rules[2].path: "api" is not a valid path (a path starting with /)',
      'lb.yaml:12:23: LoadBalancer/t: spec.listeners[0].rules[2].pathType: "Regex" is not valid (one of Prefix, Exact)',
    ],
  },
  {
    rule: "proxyProtocol not on UDP; maxFlows only on UDP",
    body: `  listeners:
    - {name: a, protocol: UDP, port: 53, defaultPool: p, proxyProtocol: true, maxFlows: 0}
    - {name: b, protocol: TCP, port: 53, defaultPool: p, maxFlows: 10}
${POOLS}`,
    errors: [
      "lb.yaml:6:58: LoadBalancer/t: spec.listeners[0].proxyProtocol: true is not valid for UDP (PROXY protocol is read on TCP, HTTP and HTTPS listeners)",
      "lb.yaml:6:79: LoadBalancer/t: spec.listeners[0].maxFlows: 0 is out of range (an integer of at least 1)",
      "lb.yaml:7:58: LoadBalancer/t: spec.listeners[1].maxFlows: only UDP listeners take maxFlows (this listener is TCP)",
    ],
  },
  {
    rule: "timeouts are durations 1ms–7d; UDP idle at least 1s",
    body: `  listeners:
    - name: a
      protocol: UDP
      port: 53
      defaultPool: p
      timeouts: {idle: 500ms, connect: 5, member: 8d, client: 0s}
${POOLS}`,
    errors: [
      'lb.yaml:10:18: LoadBalancer/t: spec.listeners[0].timeouts.idle: "500ms" is out of range (from 1s to 7d)',
      "lb.yaml:10:31: LoadBalancer/t: spec.listeners[0].timeouts.connect: 5 is not a duration (whole numbers with units d, h, m, s, ms in that order, like 250ms, 2s, 30m or 1h30m)",
      'lb.yaml:10:43: LoadBalancer/t: spec.listeners[0].timeouts.member: "8d" is out of range (from 1ms to 7d)',
      'lb.yaml:10:55: LoadBalancer/t: spec.listeners[0].timeouts.client: "0s" is out of range (from 1ms to 7d)',
    ],
  },
  {
    rule: "preserveClientIp is a boolean, on TCP and UDP listeners only",
    body: `  listeners:
    - {name: a, protocol: HTTP, port: 80, defaultPool: p, preserveClientIp: true}
    - {name: b, protocol: TCP, port: 81, defaultPool: p, preserveClientIp: 1}
${POOLS}`,
    errors: [
      "lb.yaml:6:59: LoadBalancer/t: spec.listeners[0].preserveClientIp: only TCP and UDP listeners take preserveClientIp (this listener is HTTP)",
      "lb.yaml:7:58: LoadBalancer/t: spec.listeners[1].preserveClientIp: 1 is not valid (true or false)",
    ],
  },
  {
    rule: "accessLog and proxyProtocol are booleans",
    body: `  listeners:
    - {name: a, protocol: TCP, port: 80, defaultPool: p, accessLog: yes}
${POOLS}`,
    errors: ['lb.yaml:6:58: LoadBalancer/t: spec.listeners[0].accessLog: "yes" is not valid (true or false)'],
  },
];

const POOL_CASES: Case[] = [
  {
    rule: "member name is a DNS label of at most 63 characters, unique in the pool",
    body: `  pools:
    - name: shop
      members:
        - {name: web-1, address: 127.0.1.1, port: 9000}
        - {name: web-1, address: 127.0.1.2, port: 9000}
        - {name: Web_2, address: 127.0.1.3, port: 9000}
        - {name: ${"a".repeat(64)}, address: 127.0.1.4, port: 9000}
        - {name: web-3, address: 127.0.1.5, port: 9000, draining: yes}
    - name: other
      members:
        - {name: web-1, address: 127.0.1.1, port: 9000, draining: true}
`,
    errors: [
      'lb.yaml:9:12: LoadBalancer/t: spec.pools[0].members[1].name: "web-1" is already the name of members[0]; member names are unique in a pool',
      `lb.yaml:10:12: LoadBalancer/t: spec.pools[0].members[2].name: "Web_2" is not a valid member name (a DNS label: 1–63 lower-case letters, digits or '-', starting and ending with a letter or digit)`,
      `lb.yaml:11:12: LoadBalancer/t: spec.pools[0].members[3].name: "${"a".repeat(64)}" is not a valid member name (a DNS label: 1–63 lower-case letters, digits or '-', starting and ending with a letter or digit)`,
      'lb.yaml:12:57: LoadBalancer/t: spec.pools[0].members[4].draining: "yes" is not valid (true or false)',
    ],
  },
  {
    rule: "weight is an integer 0–100 (the documented example)",
    body: `  pools:
    - name: shop
      members:
        - {address: 127.0.1.1, port: 9000}
        - address: 127.0.1.2
          port: 9000
          weight: 101
        - {address: 127.0.1.3, port: 9000, weight: 1.5}
`,
    errors: [
      "lb.yaml:11:11: LoadBalancer/t: spec.pools[0].members[1].weight: 101 is out of range (an integer 0–100)",
      "lb.yaml:12:44: LoadBalancer/t: spec.pools[0].members[2].weight: 1.5 is not valid (an integer 0–100)",
    ],
  },
  {
    rule: "member address is an IP address, port required, each member once",
    body: `  pools:
    - name: p
      members:
        - {address: backend.local, port: 80}
        - {address: 10.0.0.1}
        - {address: 10.0.0.2, port: 80}
        - {address: 10.0.0.2, port: 80}
`,
    errors: [
      'lb.yaml:8:12: LoadBalancer/t: spec.pools[0].members[0].address: "backend.local" is not an IP address (an IPv4 or IPv6 address, like 127.0.0.1 or ::1)',
      "lb.yaml:9:11: LoadBalancer/t: spec.pools[0].members[1].port: a required field is missing (an integer 1–65535)",
      "lb.yaml:11:12: LoadBalancer/t: spec.pools[0].members[3].address: 10.0.0.2:80 is already a member of this pool; list each member once",
    ],
  },
  {
    rule: "a pool needs a name; algorithm is one of three",
    body: `  pools:
    - algorithm: RANDOM
`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.pools[0].name: a required field is missing (a name of 1–63 letters, digits, '-', '_' or '.', starting with a letter or digit)",
      'lb.yaml:6:7: LoadBalancer/t: spec.pools[0].algorithm: "RANDOM" is not valid (one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP)',
    ],
  },
  {
    rule: "session persistence is refused with algorithm SOURCE_IP",
    body: `  pools:
    - name: p
      algorithm: SOURCE_IP
      sessionPersistence: {type: SOURCE_IP}
`,
    errors: [
      "lb.yaml:8:7: LoadBalancer/t: spec.pools[0].sessionPersistence: not allowed with algorithm SOURCE_IP (the hash already keeps each client on its member); use ROUND_ROBIN or LEAST_CONNECTIONS, or remove sessionPersistence",
    ],
  },
  {
    rule: "APP_COOKIE needs cookieName",
    body: `  pools:
    - name: p
      sessionPersistence:
        type: APP_COOKIE
`,
    errors: [
      "lb.yaml:7:7: LoadBalancer/t: spec.pools[0].sessionPersistence.cookieName: a required field is missing (a cookie name: 1–255 letters, digits or !#$%&'*+-.^_`|~)",
    ],
  },
  {
    rule: "persistence type; persistenceTimeout from 1s to 7d; cookieName a cookie token",
    body: `  pools:
    - {name: a, sessionPersistence: {type: COOKIE}}
    - {name: b, sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 500ms}}
    - {name: c, sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 7d1ms}}
    - {name: d, sessionPersistence: {type: HTTP_COOKIE, cookieName: "my cookie"}}
`,
    errors: [
      'lb.yaml:6:38: LoadBalancer/t: spec.pools[0].sessionPersistence.type: "COOKIE" is not valid (one of SOURCE_IP, HTTP_COOKIE, APP_COOKIE, HTTP_HEADER)',
      'lb.yaml:7:55: LoadBalancer/t: spec.pools[1].sessionPersistence.persistenceTimeout: "500ms" is out of range (from 1s to 7d)',
      'lb.yaml:8:57: LoadBalancer/t: spec.pools[2].sessionPersistence.persistenceTimeout: "7d1ms" is out of range (from 1s to 7d)',
      'lb.yaml:9:57: LoadBalancer/t: spec.pools[3].sessionPersistence.cookieName: "my cookie" is not a valid cookie name (a cookie name: 1–255 letters, digits or !#$%&\'*+-.^_`|~)',
    ],
  },
  {
    rule: "cookie attributes: only for HTTP_COOKIE; values; SameSite None needs Secure",
    body: `  pools:
    - name: a
      sessionPersistence:
        type: HTTP_COOKIE
        cookie: {path: api, sameSite: None, secure: never, httpOnly: "true", domain: "a b"}
    - name: b
      sessionPersistence:
        type: APP_COOKIE
        cookieName: SID
        cookie: {path: /}
`,
    errors: [
      "lb.yaml:9:18: LoadBalancer/t: spec.pools[0].sessionPersistence.cookie.path: \"api\" is not a valid cookie path (a path starting with /, without ';' or control characters)",
      'lb.yaml:9:29: LoadBalancer/t: spec.pools[0].sessionPersistence.cookie.sameSite: "None" needs secure auto or always (browsers refuse SameSite=None without Secure)',
      'lb.yaml:9:60: LoadBalancer/t: spec.pools[0].sessionPersistence.cookie.httpOnly: "true" is not valid (true or false)',
      'lb.yaml:9:78: LoadBalancer/t: spec.pools[0].sessionPersistence.cookie.domain: "a b" is not a valid cookie domain (a domain name like example.com, or "" for none)',
      "lb.yaml:14:9: LoadBalancer/t: spec.pools[1].sessionPersistence.cookie: only HTTP_COOKIE takes cookie attributes (this type is APP_COOKIE)",
    ],
  },
  {
    rule: "maxBindings is an integer ≥ 1, not for HTTP_COOKIE; cookieName not for SOURCE_IP",
    body: `  pools:
    - {name: a, sessionPersistence: {type: SOURCE_IP, maxBindings: 0, cookieName: X}}
    - {name: b, sessionPersistence: {type: HTTP_COOKIE, maxBindings: 10}}
`,
    errors: [
      "lb.yaml:6:55: LoadBalancer/t: spec.pools[0].sessionPersistence.maxBindings: 0 is out of range (an integer of at least 1)",
      "lb.yaml:6:71: LoadBalancer/t: spec.pools[0].sessionPersistence.cookieName: only HTTP_COOKIE and APP_COOKIE take cookieName (this type is SOURCE_IP)",
      "lb.yaml:7:57: LoadBalancer/t: spec.pools[1].sessionPersistence.maxBindings: only SOURCE_IP and APP_COOKIE keep a binding table (this type is HTTP_COOKIE)",
    ],
  },
  {
    rule: "HTTP_HEADER needs a headerName: a token, not a hop-by-hop, framing or cookie header; only HTTP_HEADER takes it",
    body: `  pools:
    - {name: a, sessionPersistence: {type: HTTP_HEADER}}
    - {name: b, sessionPersistence: {type: HTTP_HEADER, headerName: "X Session"}}
    - {name: c, sessionPersistence: {type: HTTP_HEADER, headerName: transfer-encoding}}
    - {name: d, sessionPersistence: {type: HTTP_HEADER, headerName: Set-Cookie}}
    - {name: e, sessionPersistence: {type: HTTP_COOKIE, headerName: X-Session}}
    - {name: f, sessionPersistence: {type: HTTP_HEADER, headerName: X-Session, cookieName: S, maxBindings: 5, cookie: {path: /}}}
`,
    errors: [
      "lb.yaml:6:17: LoadBalancer/t: spec.pools[0].sessionPersistence.headerName: a required field is missing (a header name: 1–100 letters, digits or !#$%&'*+-.^_`|~, like X-Session)",
      'lb.yaml:7:57: LoadBalancer/t: spec.pools[1].sessionPersistence.headerName: "X Session" is not a valid header name (a header name: 1–100 letters, digits or !#$%&\'*+-.^_`|~, like X-Session)',
      'lb.yaml:8:57: LoadBalancer/t: spec.pools[2].sessionPersistence.headerName: "transfer-encoding" cannot carry the session token (a hop-by-hop, framing, cookie or X-Forwarded header) (a header name: 1–100 letters, digits or !#$%&\'*+-.^_`|~, like X-Session)',
      'lb.yaml:9:57: LoadBalancer/t: spec.pools[3].sessionPersistence.headerName: "Set-Cookie" cannot carry the session token (a hop-by-hop, framing, cookie or X-Forwarded header) (a header name: 1–100 letters, digits or !#$%&\'*+-.^_`|~, like X-Session)',
      "lb.yaml:10:57: LoadBalancer/t: spec.pools[4].sessionPersistence.headerName: only HTTP_HEADER takes headerName (this type is HTTP_COOKIE)",
      "lb.yaml:11:80: LoadBalancer/t: spec.pools[5].sessionPersistence.cookieName: only HTTP_COOKIE and APP_COOKIE take cookieName (this type is HTTP_HEADER)",
      "lb.yaml:11:95: LoadBalancer/t: spec.pools[5].sessionPersistence.maxBindings: only SOURCE_IP and APP_COOKIE keep a binding table (this type is HTTP_HEADER)",
      "lb.yaml:11:111: LoadBalancer/t: spec.pools[5].sessionPersistence.cookie: only HTTP_COOKIE takes cookie attributes (this type is HTTP_HEADER)",
    ],
  },
  {
    rule: "absoluteTimeout: HTTP_COOKIE and HTTP_HEADER only, at least persistenceTimeout, at most 400d; cookie.maxAge only session",
    body: `  pools:
    - {name: a, sessionPersistence: {type: SOURCE_IP, absoluteTimeout: 1h}}
    - {name: b, sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m, absoluteTimeout: 10m}}
    - {name: c, sessionPersistence: {type: HTTP_HEADER, headerName: X-S, absoluteTimeout: 401d}}
    - {name: d, sessionPersistence: {type: HTTP_COOKIE, absoluteTimeout: 8h, cookie: {maxAge: 3600}}}
    - {name: e, sessionPersistence: {type: APP_COOKIE, cookieName: SID, absoluteTimeout: 1d}}
`,
    errors: [
      "lb.yaml:6:55: LoadBalancer/t: spec.pools[0].sessionPersistence.absoluteTimeout: only HTTP_COOKIE and HTTP_HEADER take absoluteTimeout (this type is SOURCE_IP)",
      "lb.yaml:7:82: LoadBalancer/t: spec.pools[1].sessionPersistence.absoluteTimeout: 10m is shorter than persistenceTimeout 30m; absoluteTimeout must be at least persistenceTimeout",
      'lb.yaml:8:74: LoadBalancer/t: spec.pools[2].sessionPersistence.absoluteTimeout: "401d" is out of range (from 1s to 400d)',
      "lb.yaml:9:57: LoadBalancer/t: spec.pools[3].sessionPersistence.absoluteTimeout: 8h is shorter than persistenceTimeout 1d; absoluteTimeout must be at least persistenceTimeout",
      "lb.yaml:9:87: LoadBalancer/t: spec.pools[3].sessionPersistence.cookie.maxAge: 3600 is not valid (one of session)",
      "lb.yaml:10:73: LoadBalancer/t: spec.pools[4].sessionPersistence.absoluteTimeout: only HTTP_COOKIE and HTTP_HEADER take absoluteTimeout (this type is APP_COOKIE)",
    ],
  },
  {
    rule: "health monitor: type, retries 1–10, urlPath, expectedCodes",
    body: `  pools:
    - name: a
      healthMonitor: {type: PING, maxRetries: 11, maxRetriesDown: 0, delay: 5}
    - name: b
      healthMonitor: {type: HTTP, urlPath: healthz, expectedCodes: "200-99"}
    - name: c
      healthMonitor: {type: HTTP, expectedCodes: "600"}
    - name: d
      healthMonitor: {type: TCP, urlPath: /x}
`,
    errors: [
      'lb.yaml:7:23: LoadBalancer/t: spec.pools[0].healthMonitor.type: "PING" is not valid (one of TCP, HTTP, HTTPS, UDP_CONNECT)',
      "lb.yaml:7:35: LoadBalancer/t: spec.pools[0].healthMonitor.maxRetries: 11 is out of range (an integer 1–10)",
      "lb.yaml:7:51: LoadBalancer/t: spec.pools[0].healthMonitor.maxRetriesDown: 0 is out of range (an integer 1–10)",
      "lb.yaml:7:70: LoadBalancer/t: spec.pools[0].healthMonitor.delay: 5 is not a duration (whole numbers with units d, h, m, s, ms in that order, like 250ms, 2s, 30m or 1h30m)",
      'lb.yaml:9:35: LoadBalancer/t: spec.pools[1].healthMonitor.urlPath: "healthz" is not a valid URL path (a path starting with /)',
      'lb.yaml:9:53: LoadBalancer/t: spec.pools[1].healthMonitor.expectedCodes: "200-99" is not valid (status codes 100–599 written "200", "200,202" or "200-299")',
      'lb.yaml:11:35: LoadBalancer/t: spec.pools[2].healthMonitor.expectedCodes: "600" is not valid (status codes 100–599 written "200", "200,202" or "200-299")',
      "lb.yaml:13:34: LoadBalancer/t: spec.pools[3].healthMonitor.urlPath: only HTTP and HTTPS monitors take urlPath (this monitor is TCP)",
    ],
  },
];

const CROSS_CASES: Case[] = [
  {
    rule: "every referenced pool exists",
    body: `  listeners:
    - name: a
      protocol: HTTP
      port: 80
      defaultPool: nope
      rules: [{path: /x, pool: gone}]
${POOLS}`,
    errors: [
      'lb.yaml:9:7: LoadBalancer/t: spec.listeners[0].defaultPool: "nope" is not a pool (pools: "p", "c")',
      'lb.yaml:10:26: LoadBalancer/t: spec.listeners[0].rules[0].pool: "gone" is not a pool (pools: "p", "c")',
    ],
  },
  {
    rule: "cookie persistence only on pools used by HTTP/HTTPS listeners: error at the TCP listener's reference",
    body: `  listeners:
    - {name: h, protocol: HTTP, port: 80, defaultPool: c}
    - {name: t, protocol: TCP, port: 81, defaultPool: c}
${POOLS}`,
    errors: [
      'lb.yaml:7:42: LoadBalancer/t: spec.listeners[1].defaultPool: pool "c" uses HTTP_COOKIE session persistence (lb.yaml:10:17), which needs HTTP or HTTPS listeners; a TCP listener accepts SOURCE_IP persistence or none',
    ],
  },
  {
    rule: "header persistence only on pools used by HTTP/HTTPS listeners",
    body: `  listeners:
    - {name: t, protocol: TCP, port: 81, defaultPool: x}
  pools:
    - {name: x, sessionPersistence: {type: HTTP_HEADER, headerName: X-Session}}
`,
    errors: [
      'lb.yaml:6:42: LoadBalancer/t: spec.listeners[0].defaultPool: pool "x" uses HTTP_HEADER session persistence (lb.yaml:8:17), which needs HTTP or HTTPS listeners; a TCP listener accepts SOURCE_IP persistence or none',
    ],
  },
  {
    rule: "two listeners may not share protocol family, address and port (error at the second)",
    body: `  listeners:
    - {name: a, protocol: TCP, address: 127.0.0.1, port: 80, defaultPool: p}
    - {name: b, protocol: HTTP, address: 127.0.0.1, port: 80, defaultPool: p}
    - {name: c, protocol: UDP, address: 127.0.0.1, port: 80, defaultPool: p}
    - {name: d, protocol: HTTPS, address: 127.0.0.2, port: 80, defaultPool: p, tls: [{certFile: c, keyFile: k}]}
    - {name: e, protocol: UDP, port: 80, defaultPool: p}
${POOLS}`,
    errors: [
      'lb.yaml:7:53: LoadBalancer/t: spec.listeners[1].port: 80 on 127.0.0.1 is already taken by listener "a" on 127.0.0.1 (lb.yaml:6:52) in the TCP family (TCP, HTTP, HTTPS); use another port or address',
      'lb.yaml:10:32: LoadBalancer/t: spec.listeners[4].port: 80 on 0.0.0.0 is already taken by listener "c" on 127.0.0.1 (lb.yaml:8:52) in the UDP family; use another port or address',
    ],
  },
  {
    rule: "names unique per kind (error at the second)",
    body: `  listeners:
    - {name: a, protocol: TCP, port: 80, defaultPool: p}
    - {name: a, protocol: TCP, port: 81, defaultPool: p}
${POOLS}    - {name: p}
`,
    errors: [
      'lb.yaml:7:8: LoadBalancer/t: spec.listeners[1].name: "a" is already the name of a listener (lb.yaml:6:8); listener names must be unique',
      'lb.yaml:11:8: LoadBalancer/t: spec.pools[2].name: "p" is already the name of a pool (lb.yaml:9:8); pool names must be unique',
    ],
  },
];

const DOCUMENT_CASES: Case[] = [
  {
    rule: "unknown fields are errors that list the accepted fields",
    body: `  listeners:
    - {name: a, protcol: TCP, port: 80, defaultPool: p}
  pool: []
`,
    errors: [
      "lb.yaml:6:7: LoadBalancer/t: spec.listeners[0].protocol: a required field is missing (one of TCP, UDP, HTTP, HTTPS)",
      "lb.yaml:6:17: LoadBalancer/t: spec.listeners[0].protcol: unknown field (did you mean protocol?); accepted fields: name, protocol, address, port, defaultPool, rules, tls, proxyProtocol, preserveClientIp, timeouts, accessLog, maxFlows",
      'lb.yaml:6:41: LoadBalancer/t: spec.listeners[0].defaultPool: "p" is not a pool (no pool is defined)',
      "lb.yaml:7:3: LoadBalancer/t: spec.pool: unknown field (did you mean pools?); accepted fields: admin, cookieSecret, stateStore, listeners, pools",
    ],
  },
  {
    rule: "cookieSecret: exactly one of env and value; a value of at least 32 bytes, never echoed",
    body: `  cookieSecret: {value: too-short-secret}
`,
    errors: [
      "lb.yaml:5:18: LoadBalancer/t: spec.cookieSecret.value: a secret of 16 bytes is too short (at least 32 bytes)",
    ],
  },
  {
    rule: "cookieSecret with both env and value",
    body: `  cookieSecret: {env: SECRET, value: "0123456789abcdef0123456789abcdef"}
`,
    errors: [
      "lb.yaml:5:3: LoadBalancer/t: spec.cookieSecret: give exactly one of env and value (found both)",
    ],
  },
  {
    rule: "stateStore: url required and of a known form, never echoing a password",
    body: `  stateStore: {url: "redis://app:hunter2@h:x", keyPrefix: "a b"}
`,
    errors: [
      'lb.yaml:5:16: LoadBalancer/t: spec.stateStore.url: "redis://app:***@h:x" is not a valid state store URL: the port "x" of "h:x" is not a number (accepted: redis://[user:pass@]host:port[/db], rediss://[user:pass@]host:port[/db], redis+cluster://host:port[,host:port…])',
      'lb.yaml:5:48: LoadBalancer/t: spec.stateStore.keyPrefix: "a b" is not a valid key prefix (a key prefix of 1–64 characters without spaces, like stickylb:)',
    ],
  },
  {
    rule: "stateStore: a missing url and an unreadable passwordFile",
    body: `  stateStore: {passwordFile: missing.pem}
`,
    errors: [
      "lb.yaml:5:3: LoadBalancer/t: spec.stateStore.url: a required field is missing (a URL: redis://[user:pass@]host:port[/db], rediss://…, or redis+cluster://host:port[,host:port…])",
      `lb.yaml:5:16: LoadBalancer/t: spec.stateStore.passwordFile: "missing.pem" cannot be read (${process.cwd()}/missing.pem: no such file or directory)`,
    ],
  },
  {
    rule: "admin: address an IP, port required",
    body: `  admin: {address: "*"}
`,
    errors: [
      "lb.yaml:5:3: LoadBalancer/t: spec.admin.port: a required field is missing (an integer 1–65535)",
      'lb.yaml:5:11: LoadBalancer/t: spec.admin.address: "*" is not an IP address (an IPv4 or IPv6 address, like 127.0.0.1 or ::1)',
    ],
  },
  {
    rule: "lists and mappings where they belong",
    body: `  listeners: {name: a}
  pools: [plain]
`,
    errors: [
      "lb.yaml:5:3: LoadBalancer/t: spec.listeners: a mapping is not valid (a list of listeners)",
      'lb.yaml:6:11: LoadBalancer/t: spec.pools[0]: "plain" is not valid (a mapping with the fields name, algorithm, sessionPersistence, healthMonitor, members)',
    ],
  },
];

describe.each([
  ["listeners", LISTENER_CASES],
  ["pools", POOL_CASES],
  ["cross checks", CROSS_CASES],
  ["documents", DOCUMENT_CASES],
])("%s", (_, cases) => {
  test.each(cases.map((c) => [c.rule, c] as const))("%s", (_rule, c) => {
    const result = load(c.body);
    expect(result.errors.map((e) => e.format())).toEqual(c.errors);
    expect(result.model).toBeUndefined();
  });
});

describe("documents, files and YAML", () => {
  test("an unknown kind, a wrong apiVersion and a stickylb/v1 kind other than LoadBalancer name what is accepted", () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: stickylb/v2
kind: LoadBalancer
metadata: {name: x}
---
apiVersion: stickylb/v1
kind: Listener
---
- just a list
`;
    const result = loadConfigSources([{ file: "k.yaml", text }]);
    expect(result.errors.map((e) => e.format())).toEqual([
      'k.yaml:2:1: Deployment/shop/web: kind: "Deployment" is not a kind that stickylb reads (LoadBalancer with apiVersion stickylb/v1, or a Kubernetes Service, Ingress, EndpointSlice, Endpoints, Secret, IngressClass, GatewayClass, Gateway, HTTPRoute, BackendLBPolicy or List)',
      'k.yaml:5:1: LoadBalancer/x: apiVersion: "stickylb/v2" is not valid (LoadBalancer needs apiVersion stickylb/v1)',
      'k.yaml:10:1: Listener/?: kind: "Listener" is not valid (stickylb/v1 has only kind LoadBalancer)',
      "k.yaml:12:1: a list is not an object (LoadBalancer with apiVersion stickylb/v1, or a Kubernetes Service, Ingress, EndpointSlice, Endpoints, Secret, IngressClass, GatewayClass, Gateway, HTTPRoute, BackendLBPolicy or List)",
    ]);
    expect(result.errors.map((e) => e.code)).toEqual([
      "SLB_ERR_CONFIG_UNKNOWN_KIND",
      "SLB_ERR_CONFIG_UNKNOWN_KIND",
      "SLB_ERR_CONFIG_UNKNOWN_KIND",
      "SLB_ERR_CONFIG_UNKNOWN_KIND",
    ]);
  });

  test("missing metadata.name and spec", () => {
    const text = "apiVersion: stickylb/v1\nkind: LoadBalancer\nmetadata: {}\n";
    expect(loadConfigSources([{ file: "m.yaml", text }]).errors.map((e) => e.format())).toEqual([
      "m.yaml:1:1: LoadBalancer/?: spec: a required field is missing (a mapping with listeners and pools)",
      "m.yaml:3:1: LoadBalancer/?: metadata.name: a required field is missing (a name of 1–63 letters, digits, '-', '_' or '.', starting with a letter or digit)",
    ]);
  });

  test("YAML syntax errors get file, line and column, and the other documents are still checked", () => {
    const text = `${HEADER}  pools: [{name: p}
---
${HEADER}  pools:
    - name: p
      name: q
---
${HEADER}  pools: [{name: r, weight: 1}]
`;
    const result = loadConfigSources([{ file: "y.yaml", text }]);
    const lines = result.errors.map((e) => e.format());
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^y\.yaml:6:1: /);
    expect(lines[1]).toMatch(/^y\.yaml:13:7: Map keys must be unique/);
    expect(lines[2]).toBe(
      "y.yaml:19:21: LoadBalancer/t: spec.pools[0].weight: unknown field; accepted fields: name, algorithm, sessionPersistence, healthMonitor, members",
    );
    expect(result.errors.map((e) => e.code)).toEqual([
      "SLB_ERR_CONFIG_YAML",
      "SLB_ERR_CONFIG_YAML",
      "SLB_ERR_CONFIG_UNKNOWN_FIELD",
    ]);
  });

  test("names unique across documents and files; admin given twice; duplicate LoadBalancer names warn", () => {
    const other = `${HEADER}  admin: {port: 9902}
  pools: [{name: p}]
`;
    const result = load(
      `  admin: {port: 9901}\n${POOLS}  listeners: [{name: l, protocol: TCP, port: 1, defaultPool: p}]\n`,
      {
        "other.yaml": other,
      },
    );
    expect(result.errors.map((e) => e.format())).toEqual([
      "other.yaml:5:3: LoadBalancer/t: spec.admin: admin is already given (lb.yaml:5:3); give it in one document only",
      'other.yaml:6:12: LoadBalancer/t: spec.pools[0].name: "p" is already the name of a pool (lb.yaml:7:8); pool names must be unique',
    ]);
    expect(result.warnings.map((e) => e.format())).toEqual([
      'lb.yaml:8:8: LoadBalancer/t: spec.pools[1].name: pool "c" is used by no listener',
      'other.yaml:3:12: LoadBalancer/t: metadata.name: "t" also names the LoadBalancer at lb.yaml:3:12; errors will be hard to tell apart',
    ]);
  });

  test("every problem of a file is reported, in line order, not only the first", () => {
    const result = load(`  listeners:
    - {name: web, protocol: HTTP, port: 99999, defaultPool: missing}
    - {name: web, protocol: TCP, port: 80, defaultPool: c}
  pools:
    - name: c
      algorithm: SOURCE_IP
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 8d}
      members: [{address: 10.0.0.1, port: 80, weight: -1}]
`);
    expect(result.errors.map((e) => e.format())).toEqual([
      "lb.yaml:6:35: LoadBalancer/t: spec.listeners[0].port: 99999 is out of range (an integer 1–65535)",
      'lb.yaml:6:48: LoadBalancer/t: spec.listeners[0].defaultPool: "missing" is not a pool (pools: "c")',
      'lb.yaml:7:8: LoadBalancer/t: spec.listeners[1].name: "web" is already the name of a listener (lb.yaml:6:8); listener names must be unique',
      'lb.yaml:7:44: LoadBalancer/t: spec.listeners[1].defaultPool: pool "c" uses HTTP_COOKIE session persistence (lb.yaml:11:7), which needs HTTP or HTTPS listeners; a TCP listener accepts SOURCE_IP persistence or none',
      "lb.yaml:11:7: LoadBalancer/t: spec.pools[0].sessionPersistence: not allowed with algorithm SOURCE_IP (the hash already keeps each client on its member); use ROUND_ROBIN or LEAST_CONNECTIONS, or remove sessionPersistence",
      'lb.yaml:11:47: LoadBalancer/t: spec.pools[0].sessionPersistence.persistenceTimeout: "8d" is out of range (from 1s to 7d)',
      "lb.yaml:12:47: LoadBalancer/t: spec.pools[0].members[0].weight: -1 is out of range (an integer 0–100)",
    ]);
  });
});
