import { loadConfigFiles } from "../../control/config/load.js";
import { createKubernetesConverter } from "../../control/k8s/index.js";
import type { CliOptions } from "../args.js";

/** `stickylb validate -f PATH…`: prints every problem, one per line; exit 0 valid, 2 invalid. */
export function validateCommand(
  options: CliOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): number {
  const result = loadConfigFiles(options.files, {
    convertKubernetes: createKubernetesConverter({
      listenAddress: options.listenAddress,
      ingressClasses: options.ingressClasses,
      loadBalancerClass: options.loadBalancerClass,
      gatewayClassController: options.gatewayClassController,
    }),
  });
  for (const w of result.warnings) err.write(`warning: ${w.format()}\n`);
  for (const e of result.errors) err.write(`${e.format()}\n`);
  if (result.errors.length > 0 || result.model === undefined) {
    err.write(`${result.errors.length} problem(s) found; the configuration is invalid\n`);
    return 2;
  }
  const model = result.model;
  out.write(`configuration is valid: ${model.listeners.length} listener(s), ${model.pools.length} pool(s)\n`);
  return 0;
}
