/**
 * A test double of the Kubernetes API server: list and watch (with resourceVersion, BOOKMARK
 * events and a forced `410 Gone`) and status merge patches, for Services, Endpoints,
 * EndpointSlices, Ingresses, IngressClasses (cluster-scoped), Secrets and the Gateway API kinds
 * (GatewayClass, Gateway, HTTPRoute, BackendLBPolicy); get, create and update
 * of Leases with optimistic concurrency as the real server does it (a create of an existing
 * object or an update carrying a stale `metadata.resourceVersion` is `409 Conflict`), so that
 * several controllers really race for one; create and list of core v1 Events. All from an
 * in-memory store; plain HTTP on 127.0.0.1, port 0, no authentication; `writeKubeconfig` points a
 * client at it.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../src/control/k8s/kube-config.js";

type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

interface Resource {
  readonly kind: string;
  readonly apiVersion: string;
  readonly prefix: string;
  readonly plural: string;
  readonly clusterScoped?: boolean;
}

const RESOURCES: readonly Resource[] = [
  { kind: "Service", apiVersion: "v1", prefix: "/api/v1", plural: "services" },
  { kind: "Endpoints", apiVersion: "v1", prefix: "/api/v1", plural: "endpoints" },
  { kind: "Secret", apiVersion: "v1", prefix: "/api/v1", plural: "secrets" },
  {
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
    prefix: "/apis/discovery.k8s.io/v1",
    plural: "endpointslices",
  },
  {
    kind: "Ingress",
    apiVersion: "networking.k8s.io/v1",
    prefix: "/apis/networking.k8s.io/v1",
    plural: "ingresses",
  },
  {
    kind: "IngressClass",
    apiVersion: "networking.k8s.io/v1",
    prefix: "/apis/networking.k8s.io/v1",
    plural: "ingressclasses",
    clusterScoped: true,
  },
  {
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    prefix: "/apis/coordination.k8s.io/v1",
    plural: "leases",
  },
  { kind: "Event", apiVersion: "v1", prefix: "/api/v1", plural: "events" },
  {
    kind: "GatewayClass",
    apiVersion: "gateway.networking.k8s.io/v1",
    prefix: "/apis/gateway.networking.k8s.io/v1",
    plural: "gatewayclasses",
    clusterScoped: true,
  },
  {
    kind: "Gateway",
    apiVersion: "gateway.networking.k8s.io/v1",
    prefix: "/apis/gateway.networking.k8s.io/v1",
    plural: "gateways",
  },
  {
    kind: "HTTPRoute",
    apiVersion: "gateway.networking.k8s.io/v1",
    prefix: "/apis/gateway.networking.k8s.io/v1",
    plural: "httproutes",
  },
  {
    kind: "BackendLBPolicy",
    apiVersion: "gateway.networking.k8s.io/v1alpha2",
    prefix: "/apis/gateway.networking.k8s.io/v1alpha2",
    plural: "backendlbpolicies",
  },
];

interface Event {
  readonly rv: number;
  readonly resource: Resource;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Obj;
}

interface Watcher {
  readonly resource: Resource;
  readonly namespace: string | undefined;
  readonly fieldSelector: string | undefined;
  readonly bookmarks: boolean;
  readonly res: http.ServerResponse;
}

const clone = <T>(value: T): T => structuredClone(value);

function matchesSelector(object: Obj, selector: string | undefined): boolean {
  if (selector === undefined || selector === "") return true;
  return selector.split(",").every((term) => {
    const [key, value] = term.split("=");
    if (key === "type") return object.type === value;
    if (key === "metadata.name") return object.metadata?.name === value;
    if (key === "metadata.namespace") return object.metadata?.namespace === value;
    return true;
  });
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
}

export class FakeKubeApi {
  private readonly server: http.Server;
  private readonly store = new Map<string, Obj>();
  private readonly events: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 1000;
  /** Watches that ask for an older resourceVersion get `410 Gone`. */
  private compactedRv = 0;
  /** Lease updates refused for a stale resourceVersion. */
  conflicts = 0;
  /** Every request, for tests to count lists, watches and patches. */
  readonly requests: Request[] = [];
  port = 0;

  /**
   * `gatewayApi: false` answers 404 for the Gateway API kinds, as a cluster without their CRDs
   * does.
   */
  constructor(private readonly options: { gatewayApi?: boolean } = {}) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig file that points at this server; returns its path. */
  writeKubeconfig(dir: string): string {
    const path = join(dir, "kubeconfig.yaml");
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]
users: [{name: tester, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: tester}}]
current-context: fake
`,
    );
    return path;
  }

  /** A client configuration for this server, as the controller loads it from a kubeconfig file. */
  kubeConfig(): KubeConfig {
    return loadKubeConfig(this.writeKubeconfig(mkdtempSync(join(tmpdir(), "stickylb-kube-"))));
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private resourceOf(kind: string): Resource {
    const resource = RESOURCES.find((r) => r.kind === kind);
    if (resource === undefined) throw new Error(`the fake API has no kind ${kind}`);
    return resource;
  }

  private key(resource: Resource, namespace: string, name: string): string {
    return `${resource.plural}/${namespace}/${name}`;
  }

  /** Creates or replaces an object (namespace defaults to `default`); emits ADDED or MODIFIED. */
  apply(object: Obj): Obj {
    const resource = this.resourceOf(String(object.kind));
    const metadata = { ...(object.metadata ?? {}) };
    if (resource.clusterScoped) delete metadata.namespace;
    else metadata.namespace ??= "default";
    const key = this.key(resource, String(metadata.namespace ?? ""), String(metadata.name));
    const existing = this.store.get(key);
    this.rv++;
    metadata.resourceVersion = String(this.rv);
    metadata.uid ??= existing?.metadata?.uid ?? `uid-${this.rv}`;
    metadata.creationTimestamp =
      existing?.metadata?.creationTimestamp ?? new Date(Date.now() + this.rv).toISOString();
    const stored: Obj = { ...clone(object), apiVersion: resource.apiVersion, kind: resource.kind, metadata };
    if (existing?.status !== undefined && object.status === undefined) stored.status = existing.status;
    this.store.set(key, stored);
    this.emit({ rv: this.rv, resource, type: existing === undefined ? "ADDED" : "MODIFIED", object: stored });
    return clone(stored);
  }

  delete(kind: string, name: string, namespace = "default"): void {
    const resource = this.resourceOf(kind);
    const key = this.key(resource, namespace, name);
    const existing = this.store.get(key);
    if (existing === undefined) return;
    this.store.delete(key);
    this.rv++;
    const gone = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(this.rv) } };
    this.emit({ rv: this.rv, resource, type: "DELETED", object: gone });
  }

  get(kind: string, name: string, namespace = "default"): Obj | undefined {
    const resource = this.resourceOf(kind);
    const found = this.store.get(this.key(resource, resource.clusterScoped ? "" : namespace, name));
    return found === undefined ? undefined : clone(found);
  }

  /** Every stored object of a kind (e.g. the Events posted), oldest first. */
  all(kind: string): Obj[] {
    const resource = this.resourceOf(kind);
    return [...this.store.entries()]
      .filter(([key]) => key.startsWith(`${resource.plural}/`))
      .map(([, object]) => clone(object))
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion));
  }

  /** Sends a BOOKMARK with the current resourceVersion on every watch that asked for them. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      this.write(w, {
        type: "BOOKMARK",
        object: {
          kind: w.resource.kind,
          apiVersion: w.resource.apiVersion,
          metadata: { resourceVersion: String(this.rv) },
        },
      });
    }
  }

  /** Cuts every open watch without a word, as a broken network or an API server restart does. */
  breakWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /**
   * Forgets the event history (etcd compaction): open watches get an ERROR event with a
   * `410 Gone` Status and are closed, and resuming from any earlier resourceVersion is refused the
   * same way, so clients must list again.
   */
  expireWatches(): void {
    this.compactedRv = this.rv;
    this.events.length = 0;
    for (const w of this.watchers) {
      this.write(w, { type: "ERROR", object: this.goneStatus() });
      w.res.end();
    }
    this.watchers.clear();
  }

  /** Requests seen, by kind: `list` (and get), `watch`, `patch`, `create`, `update`. */
  count(verb: "list" | "watch" | "patch" | "create" | "update", plural?: string): number {
    return this.requests.filter((r) => {
      const isWatch = r.query.watch === "true";
      const v =
        r.method === "PATCH"
          ? "patch"
          : r.method === "POST"
            ? "create"
            : r.method === "PUT"
              ? "update"
              : isWatch
                ? "watch"
                : "list";
      return v === verb && (plural === undefined || r.path.includes(`/${plural}`));
    }).length;
  }

  private goneStatus(): Obj {
    return {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "too old resource version",
      reason: "Expired",
      code: 410,
    };
  }

  private emit(event: Event): void {
    this.events.push(event);
    for (const w of this.watchers)
      if (this.wants(w, event)) this.write(w, { type: event.type, object: event.object });
  }

  private wants(w: Watcher, event: Event): boolean {
    return (
      event.resource === w.resource &&
      (w.namespace === undefined || event.object.metadata?.namespace === w.namespace) &&
      matchesSelector(event.object, w.fieldSelector)
    );
  }

  private write(w: Watcher, line: unknown): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(`${JSON.stringify(line)}\n`);
  }

  private route(
    path: string,
  ): { resource: Resource; namespace?: string; name?: string; status: boolean } | undefined {
    for (const resource of RESOURCES) {
      if (this.options.gatewayApi === false && resource.prefix.startsWith("/apis/gateway.networking.k8s.io/"))
        continue;
      if (!path.startsWith(`${resource.prefix}/`)) continue;
      const parts = path.slice(resource.prefix.length + 1).split("/");
      if (parts[0] === resource.plural && parts.length === 1) return { resource, status: false };
      if (parts[0] === resource.plural && resource.clusterScoped === true && parts.length >= 2)
        return { resource, namespace: "", name: parts[1]!, status: parts[2] === "status" };
      if (parts[0] === "namespaces" && parts[2] === resource.plural) {
        const namespace = parts[1]!;
        if (parts.length === 3) return { resource, namespace, status: false };
        if (parts.length >= 4) return { resource, namespace, name: parts[3]!, status: parts[4] === "status" };
      }
    }
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, query });
    const route = this.route(url.pathname);
    if (route === undefined) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ kind: "Status", code: 404 }));
      return;
    }
    const withBody = (then: (body: string) => void): void => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => then(body));
    };
    if (req.method === "PATCH" && route.name !== undefined) {
      withBody((body) =>
        this.patch(route.resource, route.namespace!, route.name!, body, req.headers["content-type"], res),
      );
      return;
    }
    const writable = route.resource.kind === "Lease" || route.resource.kind === "Event";
    if (req.method === "POST" && writable && route.namespace !== undefined && route.name === undefined) {
      withBody((body) => this.create(route.resource, route.namespace!, body, res));
      return;
    }
    if (req.method === "PUT" && route.resource.kind === "Lease" && route.name !== undefined) {
      withBody((body) => this.update(route.resource, route.namespace!, route.name!, body, res));
      return;
    }
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (route.name !== undefined) {
      const found = this.store.get(this.key(route.resource, route.namespace ?? "", route.name));
      if (found === undefined)
        this.status(res, 404, "NotFound", `${route.resource.plural} "${route.name}" not found`);
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(found));
      return;
    }
    if (query.watch === "true") this.watch(route.resource, route.namespace, query, res);
    else this.list(route.resource, route.namespace, query.fieldSelector, res);
  }

  private matching(resource: Resource, namespace: string | undefined, selector: string | undefined): Obj[] {
    const out: Obj[] = [];
    for (const [key, object] of this.store) {
      if (!key.startsWith(`${resource.plural}/`)) continue;
      if (namespace !== undefined && object.metadata?.namespace !== namespace) continue;
      if (!matchesSelector(object, selector)) continue;
      const { kind: _kind, apiVersion: _apiVersion, ...item } = clone(object);
      out.push(item);
    }
    return out;
  }

  private list(
    resource: Resource,
    namespace: string | undefined,
    selector: string | undefined,
    res: http.ServerResponse,
  ): void {
    const body = {
      kind: `${resource.kind}List`,
      apiVersion: resource.apiVersion,
      metadata: { resourceVersion: String(this.rv) },
      items: this.matching(resource, namespace, selector),
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  private watch(
    resource: Resource,
    namespace: string | undefined,
    query: Record<string, string>,
    res: http.ServerResponse,
  ): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const watcher: Watcher = {
      resource,
      namespace,
      fieldSelector: query.fieldSelector,
      bookmarks: query.allowWatchBookmarks === "true",
      res,
    };
    const from = Number(query.resourceVersion ?? "0");
    if (query.resourceVersion !== undefined && query.resourceVersion !== "" && from < this.compactedRv) {
      this.write(watcher, { type: "ERROR", object: this.goneStatus() });
      res.end();
      return;
    }
    res.flushHeaders();
    for (const event of this.events)
      if (event.rv > from && this.wants(watcher, event))
        this.write(watcher, { type: event.type, object: event.object });
    this.watchers.add(watcher);
    res.on("close", () => this.watchers.delete(watcher));
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res
      .writeHead(code, { "content-type": "application/json" })
      .end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code }));
  }

  /** POST: `409 AlreadyExists` when the name is taken; `generateName` gets a unique suffix. */
  private create(resource: Resource, namespace: string, body: string, res: http.ServerResponse): void {
    const object = JSON.parse(body) as Obj;
    const metadata: Record<string, unknown> = { ...(object.metadata ?? {}), namespace };
    if (metadata.name === undefined && typeof metadata.generateName === "string")
      metadata.name = `${metadata.generateName}${(this.rv + 1).toString(16)}`;
    const key = this.key(resource, namespace, String(metadata.name));
    if (this.store.has(key)) {
      this.status(res, 409, "AlreadyExists", `${resource.plural} "${String(metadata.name)}" already exists`);
      return;
    }
    res
      .writeHead(201, { "content-type": "application/json" })
      .end(JSON.stringify(this.apply({ ...object, kind: resource.kind, metadata })));
  }

  /** PUT: the body's resourceVersion must be the stored one, else `409 Conflict` (optimistic concurrency). */
  private update(
    resource: Resource,
    namespace: string,
    name: string,
    body: string,
    res: http.ServerResponse,
  ): void {
    const object = JSON.parse(body) as Obj;
    const existing = this.store.get(this.key(resource, namespace, name));
    if (existing === undefined) {
      this.status(res, 404, "NotFound", `${resource.plural} "${name}" not found`);
      return;
    }
    const sent = object.metadata?.resourceVersion;
    if (sent !== existing.metadata?.resourceVersion) {
      this.conflicts++;
      this.status(
        res,
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resource.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
      return;
    }
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(
        JSON.stringify(
          this.apply({ ...object, kind: resource.kind, metadata: { ...object.metadata, namespace, name } }),
        ),
      );
  }

  private patch(
    resource: Resource,
    namespace: string,
    name: string,
    body: string,
    contentType: string | undefined,
    res: http.ServerResponse,
  ): void {
    const key = this.key(resource, namespace, name);
    const existing = this.store.get(key);
    if (existing === undefined) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ kind: "Status", code: 404 }));
      return;
    }
    if (contentType !== "application/merge-patch+json") {
      res
        .writeHead(415, { "content-type": "application/json" })
        .end(JSON.stringify({ kind: "Status", code: 415 }));
      return;
    }
    const patch = JSON.parse(body) as Obj;
    // A status patch changes only the status.
    const updated = mergePatch(existing, { status: patch.status ?? null }) as Obj;
    this.rv++;
    updated.metadata = { ...existing.metadata, resourceVersion: String(this.rv) };
    this.store.set(key, updated);
    this.emit({ rv: this.rv, resource, type: "MODIFIED", object: updated });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(updated));
  }
}
