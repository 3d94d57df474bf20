import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import {
  ConfigError,
  type KubeObjectDoc,
  loadConfigFiles,
  loadConfigSources,
} from "../../../src/control/config/index.js";
import type { ConfigModel, ListenerModel } from "../../../src/core/model.js";

const FIXTURES = "test/fixtures/config";
const formatted = (errors: readonly ConfigError[]): string[] => errors.map((e) => e.format());

describe("token persistence options", () => {
  const result = loadConfigFiles([join(FIXTURES, "persistence", "lb.yaml")]);

  test("header persistence, absolute timeouts and a session cookie reach the model", () => {
    expect(formatted(result.errors)).toEqual([]);
    const [api, web] = result.model!.pools;
    expect(api!.sessionPersistence).toEqual({
      type: "HTTP_HEADER",
      headerName: "X-Session",
      persistenceTimeoutMs: 30 * 60_000,
      absoluteTimeoutMs: 8 * 3_600_000,
      cookieName: "",
      cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
      maxBindings: 1_000_000,
    });
    expect(web!.sessionPersistence).toMatchObject({
      type: "HTTP_COOKIE",
      cookieName: "STICKYLB",
      absoluteTimeoutMs: 12 * 3_600_000,
      cookie: { maxAge: "session" },
    });
    expect(web!.sessionPersistence!.headerName).toBeUndefined();
  });
});

describe("the full example of docs/configuration.md", () => {
  const file = join(FIXTURES, "full", "lb.yaml");
  const result = loadConfigFiles([file]);
  const source = { file, object: "LoadBalancer/shop" };

  test("loads without errors or warnings", () => {
    expect(formatted(result.errors)).toEqual([]);
    expect(formatted(result.warnings)).toEqual([]);
    expect(result.kubernetesObjects).toEqual([]);
  });

  test("gives the expected model, durations in ms and defaults filled in", () => {
    const expected: ConfigModel = {
      admin: { address: "127.0.0.1", port: 9901 },
      cookieSecret: { env: "STICKYLB_COOKIE_SECRET" },
      listeners: [
        {
          name: "web",
          protocol: "HTTPS",
          address: "127.0.0.1",
          port: 8443,
          defaultPool: "web",
          rules: [
            { host: "www.example.com", path: "/api", pathType: "Prefix", pool: "api" },
            { path: "/exact", pathType: "Exact", pool: "api" },
          ],
          tls: [
            {
              certFile: resolve(FIXTURES, "full", "cert.pem"),
              keyFile: resolve(FIXTURES, "full", "key.pem"),
            },
          ],
          proxyProtocol: false,
          timeouts: { idleMs: 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
          maxFlows: 100_000,
          accessLog: false,
          source,
        },
        {
          name: "tcp",
          protocol: "TCP",
          address: "0.0.0.0",
          port: 9000,
          defaultPool: "api",
          rules: [],
          tls: [],
          proxyProtocol: true,
          timeouts: { idleMs: 300_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
          maxFlows: 100_000,
          accessLog: true,
          source,
        },
        {
          name: "dns",
          protocol: "UDP",
          address: "::1",
          port: 5353,
          defaultPool: "api",
          rules: [],
          tls: [],
          proxyProtocol: false,
          timeouts: { idleMs: 90_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
          maxFlows: 500,
          accessLog: false,
          source,
        },
      ],
      pools: [
        {
          name: "web",
          algorithm: "ROUND_ROBIN",
          sessionPersistence: {
            type: "HTTP_COOKIE",
            persistenceTimeoutMs: 1_800_000,
            cookieName: "SESSION",
            cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
            maxBindings: 1_000_000,
          },
          healthMonitor: {
            type: "HTTP",
            delayMs: 5_000,
            timeoutMs: 3_000,
            maxRetries: 3,
            maxRetriesDown: 3,
            urlPath: "/healthz",
            expectedCodes: [[200, 399]],
          },
          members: [
            { address: "127.0.1.1", port: 9000, weight: 1, draining: false },
            { address: "127.0.1.2", port: 9000, weight: 1, draining: false },
          ],
          source,
        },
        {
          name: "api",
          algorithm: "LEAST_CONNECTIONS",
          sessionPersistence: {
            type: "SOURCE_IP",
            persistenceTimeoutMs: 3_600_000,
            cookieName: "",
            cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
            maxBindings: 5_000,
          },
          healthMonitor: {
            type: "TCP",
            delayMs: 5_000,
            timeoutMs: 3_000,
            maxRetries: 3,
            maxRetriesDown: 3,
            urlPath: "/",
            expectedCodes: [[200, 200]],
          },
          members: [{ address: "::1", port: 9100, weight: 0, draining: false }],
          source,
        },
      ],
    };
    expect(result.model).toEqual(expected);
  });
});

const header = (name: string): string =>
  `apiVersion: stickylb/v1\nkind: LoadBalancer\nmetadata: {name: ${name}}\n`;

describe("defaults where the document is silent", () => {
  const text = `${header("d")}spec:
  listeners:
    - {name: h, protocol: HTTP, port: 80, defaultPool: cookie}
    - {name: u, protocol: UDP, port: 53, defaultPool: plain}
  pools:
    - name: cookie
      sessionPersistence: {type: HTTP_COOKIE}
      healthMonitor: {type: HTTP, maxRetries: 5, expectedCodes: 200}
    - name: app
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID}
      healthMonitor: {type: HTTPS, expectedCodes: "200, 202,300-302"}
    - name: plain
`;
  const { model, errors, warnings } = loadConfigSources([{ file: "d.yaml", text }]);

  test("listeners: address 0.0.0.0, idle 60s for HTTP and 300s for UDP, no proxy protocol or access log", () => {
    expect(errors).toEqual([]);
    const [http, udp] = model!.listeners as [ListenerModel, ListenerModel];
    expect(http).toMatchObject({
      address: "0.0.0.0",
      proxyProtocol: false,
      accessLog: false,
      maxFlows: 100_000,
    });
    expect(http.timeouts).toEqual({ idleMs: 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 });
    expect(udp.timeouts.idleMs).toBe(300_000);
  });

  test("pools: ROUND_ROBIN, no members, cookie defaults, 1440m for cookies, maxRetriesDown = maxRetries", () => {
    const [cookie, app, plain] = model!.pools;
    expect(cookie?.algorithm).toBe("ROUND_ROBIN");
    expect(cookie?.sessionPersistence).toEqual({
      type: "HTTP_COOKIE",
      persistenceTimeoutMs: 86_400_000,
      cookieName: "STICKYLB",
      cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
      maxBindings: 1_000_000,
    });
    expect(cookie?.healthMonitor).toMatchObject({
      maxRetries: 5,
      maxRetriesDown: 5,
      expectedCodes: [[200, 200]],
    });
    expect(app?.sessionPersistence).toMatchObject({
      cookieName: "JSESSIONID",
      persistenceTimeoutMs: 86_400_000,
    });
    expect(app?.healthMonitor?.expectedCodes).toEqual([
      [200, 200],
      [202, 202],
      [300, 302],
    ]);
    expect(plain).toEqual({
      name: "plain",
      algorithm: "ROUND_ROBIN",
      members: [],
      source: { file: "d.yaml", object: "LoadBalancer/d" },
    });
  });

  test("a pool that no listener uses is a warning, not an error", () => {
    expect(formatted(warnings)).toEqual([
      `d.yaml:12:7: LoadBalancer/d: spec.pools[1].name: pool "app" is used by no listener`,
    ]);
  });
});

describe("several documents and files", () => {
  test("a folder: its .yaml and .yml files in name order, hidden, other and nested files skipped", () => {
    const folder = join(FIXTURES, "folder");
    const result = loadConfigFiles([folder]);
    expect(formatted(result.errors)).toEqual([]);
    expect(result.model?.listeners.map((l) => [l.name, l.source.file])).toEqual([
      ["app", join(folder, "a-listeners.yaml")],
    ]);
    expect(result.model?.pools.map((p) => [p.name, p.source.file])).toEqual([
      ["app", join(folder, "b-pools.yml")],
    ]);
  });

  test("a Kubernetes object passes through to kubernetesObjects with its positions", () => {
    const folder = join(FIXTURES, "folder");
    const [service] = loadConfigFiles([folder]).kubernetesObjects as [KubeObjectDoc];
    expect(service.kind).toBe("Service");
    expect(service.file).toBe(join(folder, "a-listeners.yaml"));
    expect(service.documentIndex).toBe(2);
    expect(service.doc).toMatchObject({ apiVersion: "v1", metadata: { name: "svc", namespace: "default" } });
    expect(service.lineOf(["metadata", "annotations", "kubernetes.io/elb.lb-algorithm"])).toEqual({
      line: 15,
      column: 5,
    });
    expect(service.lineOf(["spec", "ports", 0, "port"])).toEqual({ line: 19, column: 21 });
    // A missing field resolves to its nearest present ancestor.
    expect(service.lineOf(["spec", "selector", "app"])).toEqual({ line: 16, column: 1 });
  });

  test("multi-document text, with empty documents skipped, merges into one model", () => {
    const text = `---
${header("one")}spec:
  pools: [{name: p}]
---
# only a comment
---
${header("two")}spec:
  listeners: [{name: l, protocol: TCP, port: 1, defaultPool: p}]
...
`;
    const { model, errors } = loadConfigSources([{ file: "m.yaml", text }]);
    expect(formatted(errors)).toEqual([]);
    expect(model?.listeners.map((l) => l.source)).toEqual([{ file: "m.yaml", object: "LoadBalancer/two" }]);
    expect(model?.pools.map((p) => p.source)).toEqual([{ file: "m.yaml", object: "LoadBalancer/one" }]);
  });

  test("a kind: List is flattened; native items are validated with positions inside the List", () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: tls, namespace: web}
  - apiVersion: stickylb/v1
    kind: LoadBalancer
    metadata: {name: inner}
    spec:
      pools: [{name: p, algorithm: RANDOM}]
`;
    const result = loadConfigSources([{ file: "list.yaml", text }]);
    expect(formatted(result.errors)).toEqual([
      'list.yaml:11:25: LoadBalancer/inner: spec.pools[0].algorithm: "RANDOM" is not valid (one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP)',
    ]);
    const [secret] = result.kubernetesObjects as [KubeObjectDoc];
    expect(secret).toMatchObject({ kind: "Secret", documentPath: ["items", 0] });
    expect(secret.lineOf(["metadata", "name"])).toEqual({ line: 6, column: 16 });
  });

  test("a file named twice, or inside a named folder too, is read once", () => {
    const folder = join(FIXTURES, "folder");
    const result = loadConfigFiles([folder, join(folder, "b-pools.yml")]);
    expect(formatted(result.errors)).toEqual([]);
    expect(result.model?.pools).toHaveLength(1);
  });

  test("files given through readFile/isDirectory/readDir hooks; a missing path is an error", () => {
    const files: Record<string, string> = {
      "conf/lb.yaml": `${header("x")}spec:\n  pools: [{name: p}]\n`,
    };
    const result = loadConfigFiles(["conf", "missing.yaml"], {
      isDirectory: (path) => {
        if (path === "conf") return true;
        if (path in files) return false;
        throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      },
      readDir: () => ["lb.yaml"],
      readFile: (path) => files[path] ?? "",
    });
    expect(formatted(result.errors)).toEqual([
      "missing.yaml:1:1: cannot be read (no such file or directory)",
    ]);
    expect(result.model).toBeUndefined();
  });

  test("an empty folder is an error (running nothing would drop every listener)", () => {
    const result = loadConfigFiles(["empty"], { isDirectory: () => true, readDir: () => ["README.md"] });
    expect(formatted(result.errors)).toEqual(["empty:1:1: the folder has no .yaml or .yml file"]);
    expect(result.model).toBeUndefined();
  });

  test("files that hold no document at all are an error", () => {
    const files: Record<string, string> = { "a.yaml": "# only a comment\n", "b.yaml": "---\n---\n" };
    const result = loadConfigFiles(["a.yaml", "b.yaml"], {
      isDirectory: () => false,
      readFile: (path) => files[path] ?? "",
    });
    expect(formatted(result.errors)).toEqual([
      "a.yaml:1:1: no configuration: none of the 2 files holds a YAML document (only empty documents or comments)",
    ]);
    expect(result.model).toBeUndefined();
  });
});

describe("the Kubernetes converter hook", () => {
  const native = `${header("n")}spec:
  listeners:
    - {name: web, protocol: HTTP, port: 80, defaultPool: from-k8s}
`;
  const k8s = `apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
`;
  const source = { file: "k8s.yaml", object: "Service/default/svc" };
  const pool = { name: "from-k8s", algorithm: "ROUND_ROBIN" as const, members: [], source };
  const listener: ListenerModel = {
    name: "default/svc:80",
    protocol: "TCP",
    address: "0.0.0.0",
    port: 80,
    defaultPool: "from-k8s",
    rules: [],
    tls: [],
    proxyProtocol: false,
    timeouts: { idleMs: 300_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
    maxFlows: 100_000,
    accessLog: false,
    source,
  };

  test("receives the objects; its pools satisfy native references and join the model", () => {
    let seen: readonly KubeObjectDoc[] = [];
    const result = loadConfigSources(
      [
        { file: "n.yaml", text: native },
        { file: "k8s.yaml", text: k8s },
      ],
      {
        convertKubernetes: (objects) => {
          seen = objects;
          return { pools: [pool] };
        },
      },
    );
    expect(seen.map((o) => o.kind)).toEqual(["Service"]);
    expect(formatted(result.errors)).toEqual([]);
    expect(result.model?.pools).toEqual([pool]);
  });

  test("its errors are kept, and its entries obey the cross-document checks at their origins", () => {
    const result = loadConfigSources(
      [
        { file: "n.yaml", text: native },
        { file: "k8s.yaml", text: k8s },
      ],
      {
        convertKubernetes: (objects) => {
          const at = objects[0]!.lineOf(["metadata", "name"]);
          return {
            pools: [pool],
            listeners: [listener],
            origins: new Map([[listener, { ...source, path: "spec.ports[0]", ...at }]]),
            errors: [
              new ConfigError({
                code: "SLB_ERR_CONFIG_INVALID",
                file: "k8s.yaml",
                line: 3,
                column: 1,
                object: "Service/default/svc",
                path: "spec.type",
                message: "a required field is missing",
              }),
            ],
          };
        },
      },
    );
    expect(formatted(result.errors)).toEqual([
      "k8s.yaml:3:1: Service/default/svc: spec.type: a required field is missing",
      'k8s.yaml:3:12: Service/default/svc: spec.ports[0]: 80 on 0.0.0.0 is already taken by listener "web" on 0.0.0.0 (n.yaml:6:35) in the TCP family (TCP, HTTP, HTTPS); use another port or address',
    ]);
  });
});
