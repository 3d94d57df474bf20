/**
 * Kubernetes objects as the end-to-end tests hand them to the API double (`fake-kube-api.ts`):
 * a LoadBalancer Service with one TCP port named `main`, its EndpointSlice, and the controller
 * process started against the double.
 */
import type { FakeKubeApi } from "./fake-kube-api.js";
import { type StickylbProcess, startStickylb, tempDir } from "./stickylb-process.js";

/** A Service in namespace `shop` with one TCP port `main` (target port 8080), of type LoadBalancer unless told. */
export function kubeService(
  name: string,
  port: number,
  annotations?: Record<string, string>,
  type = "LoadBalancer",
) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "shop", ...(annotations === undefined ? {} : { annotations }) },
    spec: { type, ports: [{ name: "main", port, protocol: "TCP", targetPort: 8080 }] },
  };
}

/** An endpoint of a slice: an address that is ready, or one with the state it is in. */
export type SliceEndpoint =
  | string
  | { readonly ip: string; readonly state?: "ready" | "terminating" | "gone" };

function conditionsOf(endpoint: SliceEndpoint) {
  if (typeof endpoint === "string") return { ready: true };
  if (endpoint.state === "terminating") return { ready: false, serving: true, terminating: true };
  if (endpoint.state === "gone") return { ready: false, serving: false, terminating: true };
  return { ready: true, serving: true, terminating: false };
}

/** The EndpointSlice of Service `serviceName` (namespace `shop`), its endpoints on `port`. */
export function endpointSlice(serviceName: string, port: number, endpoints: readonly SliceEndpoint[]) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${serviceName}-1`,
      namespace: "shop",
      labels: { "kubernetes.io/service-name": serviceName },
    },
    addressType: "IPv4",
    ports: [{ name: "main", port, protocol: "TCP" }],
    endpoints: endpoints.map((e) => ({
      addresses: [typeof e === "string" ? e : e.ip],
      conditions: conditionsOf(e),
    })),
  };
}

/**
 * `stickylb run --kubernetes` against the API double, listening on 127.0.0.1, once its controller
 * has synced. `args` are further flags.
 */
export async function startController(
  api: FakeKubeApi,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<StickylbProcess> {
  const kubeconfig = api.writeKubeconfig(tempDir());
  const proc = startStickylb(
    ["run", "--kubernetes", "--kubeconfig", kubeconfig, "--listen-address", "127.0.0.1", ...args],
    env,
  );
  await proc.waitForLog((e) => e.msg === "kubernetes controller synced", 15_000);
  return proc;
}
