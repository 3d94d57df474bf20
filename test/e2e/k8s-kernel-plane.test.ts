import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseCli } from "../../src/cli/args.js";

/**
 * deploy/kubernetes/kernel-plane: the hostNetwork DaemonSet of the kernel plane, checked like the
 * base manifests (k8s-deploy.test.ts): it parses, every argument is one `stickylb run` accepts,
 * and it fits the base's namespace and ServiceAccount it relies on.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const BASE = join(ROOT, "deploy/kubernetes");
const VARIANT = join(BASE, "kernel-plane");

// biome-ignore lint/suspicious/noExplicitAny: manifests are plain YAML trees; each test asserts the shape it reads.
type Obj = Record<string, any>;

const load = (path: string): Obj[] =>
  parseAllDocuments(readFileSync(path, "utf8")).map((doc) => {
    expect(doc.errors, path).toEqual([]);
    return doc.toJS() as Obj;
  });

const kustomization = load(join(VARIANT, "kustomization.yaml"))[0]!;
const objects = (kustomization.resources as string[]).flatMap((f) => load(join(VARIANT, f)));
const daemonSet = objects.find((o) => o.kind === "DaemonSet")!;
const pod = daemonSet.spec.template.spec as Obj;
const container = pod.containers[0] as Obj;
const haveKubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("deploy/kubernetes/kernel-plane", () => {
  it("is a DaemonSet on the host network with NET_ADMIN, running the controller with the nftables plane", () => {
    expect(daemonSet).toBeDefined();
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe("ClusterFirstWithHostNet");
    expect(container.securityContext.capabilities.drop).toEqual(["ALL"]);
    expect(container.securityContext.capabilities.add).toContain("NET_ADMIN");
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    const args = (container.args as string[]).map((a) => a.replace("$(NODE_IP)", "10.0.0.5"));
    expect(parseCli(args)).toMatchObject({
      command: "run",
      kubernetes: true,
      l4Dataplane: "nftables",
      nftTable: "stickylb",
      publishAddress: "10.0.0.5",
      metricsAddress: { address: "0.0.0.0", port: 10254 },
    });
    const env = new Set((container.env as Obj[]).map((e) => e.name as string));
    for (const arg of container.args as string[])
      for (const [, name] of arg.matchAll(/\$\(([A-Z_]+)\)/g)) expect(env.has(name!), name).toBe(true);
    // The selector selects the pod's own labels.
    expect(daemonSet.spec.template.metadata.labels).toMatchObject(daemonSet.spec.selector.matchLabels);
  });

  it("uses the base's namespace, ServiceAccount and cookie Secret, and the base's image", () => {
    const base = ["namespace.yaml", "rbac.yaml", "deployment.yaml"].flatMap((f) => load(join(BASE, f)));
    const namespace = base.find((o) => o.kind === "Namespace")!;
    const account = base.find((o) => o.kind === "ServiceAccount")!;
    const deployment = base.find((o) => o.kind === "Deployment")!;
    expect(daemonSet.metadata.namespace).toBe(namespace.metadata.name);
    expect(pod.serviceAccountName).toBe(account.metadata.name);
    expect(container.image).toBe(deployment.spec.template.spec.containers[0].image);
    const secret = (pod.volumes as Obj[]).find((v) => v.secret !== undefined)!;
    const baseSecret = (deployment.spec.template.spec.volumes as Obj[]).find((v) => v.secret !== undefined)!;
    expect(secret.secret.secretName).toBe(baseSecret.secret.secretName);
  });

  it.skipIf(!haveKubectl)("kubectl kustomize builds it (skipped without kubectl)", () => {
    const built = parseAllDocuments(
      execFileSync("kubectl", ["kustomize", VARIANT], { encoding: "utf8" }),
    ).map((d) => d.toJS() as Obj);
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["DaemonSet/stickylb-kernel"]);
  });
});
