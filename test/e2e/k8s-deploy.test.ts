/**
 * The shipped deployment (deploy/kubernetes/, Dockerfile), checked as far as this machine allows
 * (no kubectl, no container engine):
 *
 * - the manifests parse, every flag in the container's args is one `stickylb run` accepts, and
 *   the pieces agree with each other (probes on the metrics port, the cookie Secret mounted where
 *   `--cookie-secret-file` reads it, the PDB and spread selecting the Deployment's pods, RBAC);
 * - the Dockerfile's inputs exist and its entry point answers `--version`;
 * - the manifests' command line, run as the manifests' user with the manifests' capabilities and
 *   the image's file capability on node, binds ports 80 and 443 inside a network namespace this
 *   test creates (and deletes, even on failure); without the file capability the same bind
 *   fails with EACCES (the old manifests), and without NET_BIND_SERVICE in the container's
 *   capability set the binary does not even start.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseCli } from "../../src/cli/args.js";
import { STICKYLB_MAIN, tempDir } from "../support/stickylb-process.js";

const ROOT = resolve(import.meta.dirname, "../..");
const DEPLOY = join(ROOT, "deploy/kubernetes");

// biome-ignore lint/suspicious/noExplicitAny: manifests are plain YAML trees; each test asserts the shape it reads.
type Obj = Record<string, any>;

function manifests(): Obj[] {
  const kustomization = parseAllDocuments(
    readFileSync(join(DEPLOY, "kustomization.yaml"), "utf8"),
  )[0]!.toJS() as Obj;
  const out: Obj[] = [];
  for (const file of kustomization.resources as string[]) {
    for (const doc of parseAllDocuments(readFileSync(join(DEPLOY, file), "utf8"))) {
      expect(doc.errors, file).toEqual([]);
      out.push(doc.toJS() as Obj);
    }
  }
  return out;
}

const find = (all: Obj[], kind: string, name?: string): Obj => {
  const found = all.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ""} in the manifests`);
  return found;
};

const all = manifests();
const haveKubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const deployment = find(all, "Deployment", "stickylb");
const pod = deployment.spec.template.spec as Obj;
const container = pod.containers[0] as Obj;
const security = container.securityContext as Obj;

/** `$(VAR)` as the kubelet expands it. */
const expand = (arg: string, env: Record<string, string>): string =>
  arg.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => env[name] ?? `$(${name})`);

const flagValue = (name: string): string | undefined =>
  (container.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

describe("deploy/kubernetes manifests", () => {
  it("every argument of the container is accepted by stickylb run", () => {
    const args = (container.args as string[]).map((a) => expand(a, { NODE_IP: "10.0.0.5" }));
    const options = parseCli(args);
    expect(options).toMatchObject({
      command: "run",
      kubernetes: true,
      leaderElect: true,
      publishAddress: "10.0.0.5",
      metricsAddress: { address: "0.0.0.0", port: 10254 },
      cookieSecretFile: "/etc/stickylb/cookie/secret",
    });
    // Every $(VAR) is given by the container's env.
    const env = new Set((container.env as Obj[]).map((e) => e.name as string));
    for (const arg of container.args as string[])
      for (const [, name] of arg.matchAll(/\$\(([A-Z_]+)\)/g)) expect(env.has(name!), name).toBe(true);
    for (const name of ["POD_NAME", "POD_NAMESPACE"]) expect(env.has(name), name).toBe(true);
  });

  it("the optional state store: a Valkey Deployment and Service, and a --state-store arg stickylb run accepts", () => {
    const dir = join(DEPLOY, "optional/state-store");
    const component = parseAllDocuments(
      readFileSync(join(dir, "kustomization.yaml"), "utf8"),
    )[0]!.toJS() as Obj;
    expect(component.kind).toBe("Component");
    const objects: Obj[] = [];
    for (const file of component.resources as string[])
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
        expect(doc.errors, file).toEqual([]);
        objects.push(doc.toJS() as Obj);
      }
    const valkey = find(objects, "Deployment", "stickylb-valkey");
    const service = find(objects, "Service", "stickylb-valkey");
    expect(service.spec.selector).toEqual(valkey.spec.selector.matchLabels);
    const patch = parseAllDocuments(
      readFileSync(join(dir, "state-store-arg.yaml"), "utf8"),
    )[0]!.toJS() as Obj[];
    const added = patch.map((op) => op.value as string);
    const args = [...(container.args as string[]), ...added].map((a) => expand(a, { NODE_IP: "10.0.0.5" }));
    const options = parseCli(args);
    expect(options).toMatchObject({
      command: "run",
      stateStore: `redis://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${service.spec.ports[0].port}`,
    });
  });

  it("two replicas, spread over nodes, a PodDisruptionBudget, rollouts one pod at a time", () => {
    const labels = pod.labels ?? deployment.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    const spread = pod.topologySpreadConstraints[0] as Obj;
    expect(spread).toMatchObject({ topologyKey: "kubernetes.io/hostname", maxSkew: 1 });
    expect(spread.labelSelector.matchLabels).toEqual(labels);
    const pdb = find(all, "PodDisruptionBudget", "stickylb");
    expect(pdb.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
  });

  it("probes and metrics on the pod's address through --metrics-address; resources set", () => {
    const metricsPort = Number(flagValue("metrics-address")!.split(":")[1]);
    const named = (container.ports as Obj[]).find((p) => p.name === "metrics");
    expect(named?.containerPort).toBe(metricsPort);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(deployment.spec.template.metadata.annotations["prometheus.io/port"]).toBe(String(metricsPort));
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it("the cookie key comes from the stickylb-cookie Secret, mounted where --cookie-secret-file reads it", () => {
    const file = flagValue("cookie-secret-file")!;
    const mount = (container.volumeMounts as Obj[]).find((m) => file.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
    expect(volume?.secret.secretName).toBe("stickylb-cookie");
    expect(volume?.secret.items).toEqual([{ key: "secret", path: file.slice(mount!.mountPath.length + 1) }]);
  });

  it("non-root; NET_BIND_SERVICE through the file capability, nothing else", () => {
    expect(security).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(readFileSync(join(ROOT, "Dockerfile"), "utf8")).toMatch(
      /setcap cap_net_bind_service=\+ep \/usr\/local\/bin\/node/,
    );
  });

  it("RBAC: reads what is converted, writes only status, Events and its own Lease", () => {
    const role = find(all, "ClusterRole", "stickylb");
    const rights = new Set<string>();
    for (const rule of role.rules as Obj[])
      for (const group of rule.apiGroups as string[])
        for (const resource of rule.resources as string[])
          for (const verb of rule.verbs as string[]) rights.add(`${group}/${resource}:${verb}`);
    for (const read of [
      "/services",
      "/endpoints",
      "/secrets",
      "discovery.k8s.io/endpointslices",
      "networking.k8s.io/ingresses",
      "networking.k8s.io/ingressclasses",
      "gateway.networking.k8s.io/gatewayclasses",
      "gateway.networking.k8s.io/gateways",
      "gateway.networking.k8s.io/httproutes",
      "gateway.networking.k8s.io/backendlbpolicies",
    ])
      for (const verb of ["get", "list", "watch"]) expect(rights.has(`${read}:${verb}`), read).toBe(true);
    const writes = [...rights].filter((r) => !/:(get|list|watch)$/.test(r)).sort();
    expect(writes).toEqual([
      "/events:create",
      "/services/status:patch",
      "gateway.networking.k8s.io/gatewayclasses/status:patch",
      "gateway.networking.k8s.io/gateways/status:patch",
      "gateway.networking.k8s.io/httproutes/status:patch",
      "networking.k8s.io/ingresses/status:patch",
    ]);

    const lease = find(all, "Role", "stickylb-leader-election");
    expect(lease.metadata.namespace).toBe("stickylb");
    expect(lease.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: ["stickylb-leader"],
        verbs: ["get", "update"],
      },
    ]);
    const binding = find(all, "RoleBinding", "stickylb-leader-election");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "stickylb", namespace: "stickylb" }]);
  });

  it.skipIf(!haveKubectl)(
    "kubectl kustomize builds the kustomization into the same objects (skipped without kubectl)",
    () => {
      const built = parseAllDocuments(
        execFileSync("kubectl", ["kustomize", DEPLOY], { encoding: "utf8" }),
      ).map((d) => d.toJS() as Obj);
      const names = (list: Obj[]) => list.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(names(built)).toEqual(names(all));
      expect(find(built, "Deployment", "stickylb").spec.template.spec.containers[0].image).toBe(
        container.image,
      );
    },
  );

  it("the Dockerfile's inputs exist and its entry point answers --version", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    for (const [, from] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const path of from!.split(" ")) expect(existsSync(join(ROOT, path)), path).toBe(true);
    const entry = /ENTRYPOINT \["node", "\/app\/(.+)"\]/.exec(dockerfile)?.[1];
    expect(entry).toBe("dist/src/main.js");
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
    expect(
      execFileSync(process.execPath, [join(ROOT, entry!), "--version"], { encoding: "utf8" }).trim(),
    ).toContain(version);
    expect(container.image).toBe(`stickylb:${version}`);
  });
});

// ---- Binding :80 and :443 as the manifests' user, inside a network namespace --------------------

const isRoot = process.getuid?.() === 0;
const haveTools = ["ip", "setpriv", "setcap", "ss"].every((tool) => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

interface Started {
  readonly child: ChildProcess;
  output(): string;
  waitFor(predicate: (line: Obj) => boolean, ms?: number): Promise<Obj>;
}

function start(command: string, args: string[]): Started {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  const lines = (): Obj[] =>
    out.split("\n").flatMap((l) => {
      try {
        return [JSON.parse(l) as Obj];
      } catch {
        return [];
      }
    });
  return {
    child,
    output: () => out,
    waitFor: async (predicate, ms = 15_000) => {
      const until = Date.now() + ms;
      for (;;) {
        const found = lines().find(predicate);
        if (found !== undefined) return found;
        if (Date.now() > until || child.exitCode !== null)
          throw new Error(`not seen within ${ms} ms (exit ${child.exitCode}); output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const namespaces: string[] = [];
const children: ChildProcess[] = [];
const workDirs: string[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const ns of namespaces) execFileSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!isRoot || !haveTools)(
  "the manifests' command line binds :80 and :443 (needs root, ip, setpriv)",
  () => {
    const uid = Number(security.runAsUser);
    const gid = Number(security.runAsGroup ?? pod.securityContext.runAsGroup);
    let work = "";
    let capable = "";
    let secret = "";
    let state = "";
    beforeAll(() => {
      work = tempDir("stickylb-deploy-");
      workDirs.push(work);
      chmodSync(work, 0o755);
      // The image's node, with the file capability the Dockerfile gives it.
      capable = join(work, "node");
      copyFileSync(process.execPath, capable);
      chmodSync(capable, 0o755);
      const capability = /setcap (\S+) \/usr\/local\/bin\/node/.exec(
        readFileSync(join(ROOT, "Dockerfile"), "utf8"),
      )![1]!;
      execFileSync("setcap", [capability, capable]);
      // What the volumes give the container: the cookie Secret and an empty state folder.
      secret = join(work, "cookie-secret");
      writeFileSync(secret, randomBytes(32).toString("hex"));
      chmodSync(secret, 0o644);
      state = join(work, "state");
      mkdirSync(state);
      chownSync(state, uid, gid);
    });

    /** A fresh namespace with its loopback up, and the small API server inside it; deleted in afterAll. */
    async function namespace(): Promise<{ ns: string; kubeconfig: string }> {
      const ns = `stickylb-test-${process.pid}-${randomBytes(3).toString("hex")}`;
      execFileSync("ip", ["netns", "add", ns]);
      namespaces.push(ns);
      execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
      const objects = join(work, `${ns}.json`);
      writeFileSync(
        objects,
        JSON.stringify({
          "/api/v1/services": [
            {
              metadata: { name: "web", namespace: "shop", uid: "u1" },
              spec: {
                type: "LoadBalancer",
                ports: [
                  { name: "http", port: 80, protocol: "TCP" },
                  { name: "https", port: 443, protocol: "TCP" },
                ],
              },
            },
          ],
        }),
      );
      const api = start("ip", [
        "netns",
        "exec",
        ns,
        process.execPath,
        join(ROOT, "test/support/static-kube-api.mjs"),
        objects,
      ]);
      children.push(api.child);
      const { port } = await api.waitFor((l) => typeof l.port === "number");
      const kubeconfig = join(work, `${ns}.kubeconfig`);
      writeFileSync(
        kubeconfig,
        `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
      );
      chmodSync(kubeconfig, 0o644);
      return { ns, kubeconfig };
    }

    /** The container's process: its args from the manifest, its user, its capability bounding set. */
    function runAsContainer(ns: string, kubeconfig: string, node: string, added: readonly string[]): Started {
      const args = (container.args as string[]).map((a) =>
        expand(a, { NODE_IP: "127.0.0.1" })
          .replace(/^--cookie-secret-file=.*/, `--cookie-secret-file=${secret}`)
          .replace(/^--state-dir=.*/, `--state-dir=${state}`),
      );
      expect(security.capabilities.drop).toEqual(["ALL"]);
      const bounding = ["-all", ...added.map((c) => `+${c.toLowerCase()}`)].join(",");
      const proc = start("ip", [
        "netns",
        "exec",
        ns,
        "setpriv",
        `--reuid=${uid}`,
        `--regid=${gid}`,
        "--clear-groups",
        "--inh-caps=-all",
        `--bounding-set=${bounding}`,
        // allowPrivilegeEscalation: false is no_new_privs.
        ...(security.allowPrivilegeEscalation === false ? ["--no-new-privs"] : []),
        node,
        STICKYLB_MAIN,
        ...args,
        "--kubeconfig",
        kubeconfig,
      ]);
      children.push(proc.child);
      return proc;
    }

    const stop = async (proc: Started): Promise<void> => {
      proc.child.kill("SIGTERM");
      if (proc.child.exitCode === null) await new Promise((r) => proc.child.once("exit", r));
    };

    it("as the manifests give it (uid 1000, no_new_privs, NET_BIND_SERVICE, the image's node): :80 and :443 serve", async () => {
      const { ns, kubeconfig } = await namespace();
      const proc = runAsContainer(ns, kubeconfig, capable, security.capabilities.add as string[]);
      try {
        for (const port of [80, 443])
          await proc.waitFor((l) => l.msg === "listener bound" && l.port === port);
        const status = readFileSync(`/proc/${proc.child.pid}/status`, "utf8");
        expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, "m"));
        // Only NET_BIND_SERVICE (bit 10) is effective.
        expect(/^CapEff:\s+(\S+)$/m.exec(status)?.[1]).toBe((1n << 10n).toString(16).padStart(16, "0"));
        const listening = execFileSync("ip", ["netns", "exec", ns, "ss", "-ltnH"], { encoding: "utf8" });
        expect(listening).toMatch(/0\.0\.0\.0:80\s/);
        expect(listening).toMatch(/0\.0\.0\.0:443\s/);
        const ready = execFileSync(
          "ip",
          [
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1:10254/readyz",
          ],
          { encoding: "utf8" },
        );
        expect(ready).toBe("200");
      } finally {
        await stop(proc);
      }
    });

    it("without the image's file capability (capabilities.add alone, the old manifests): EACCES on :80", async () => {
      const { ns, kubeconfig } = await namespace();
      const proc = runAsContainer(ns, kubeconfig, process.execPath, security.capabilities.add as string[]);
      try {
        // Reported and retried, not fatal: the listener cannot bind, the rest of the process runs.
        const failed = await proc.waitFor((l) => l.code === "SLB_ERR_DATA_BIND" && l.port === 80);
        expect(String(failed.error)).toMatch(/EACCES/);
      } finally {
        await stop(proc);
      }
    });

    it("without NET_BIND_SERVICE in the capability set, the image's node does not start", async () => {
      const { ns, kubeconfig } = await namespace();
      const proc = runAsContainer(ns, kubeconfig, capable, []);
      const code = await new Promise((r) => proc.child.once("exit", r));
      expect(code).not.toBe(0);
      expect(proc.output()).toMatch(/Operation not permitted/);
    });
  },
);
