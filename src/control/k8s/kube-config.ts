import { KubeConfig } from "@kubernetes/client-node";

/** In-cluster credentials when running in a Pod, else `--kubeconfig`, `$KUBECONFIG` or ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (path !== undefined) config.loadFromFile(path);
  else config.loadFromDefault();
  return config;
}
