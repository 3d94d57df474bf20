import { loadConfigFiles } from "../../control/config/load.js";
import { printNative } from "../../control/config/print-native.js";
import { createKubernetesConverter } from "../../control/k8s/index.js";
import { defaultStateDir } from "../../runtime/cookie-key.js";
import { checkStart } from "../../runtime/start-checks.js";
import type { CliOptions } from "../args.js";

/**
 * `stickylb validate [--print] -f PATH…`: prints every problem, one per line; exit 0 valid, 2
 * invalid. With `--print`, standard output holds only the effective configuration as native YAML
 * (so it can be redirected to a file), and the summary line goes to standard error.
 */
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
  // What `run` refuses at start beyond the files themselves (admin token, cookie key).
  const started = checkStart(model, {
    ...(options.admin === undefined ? {} : { admin: options.admin }),
    ...(options.adminTokenFile === undefined ? {} : { adminTokenFile: options.adminTokenFile }),
    stateDir: options.stateDir ?? defaultStateDir(process.env),
  });
  if (started.problems.length > 0) {
    for (const p of started.problems)
      err.write(`${p}
`);
    err.write(`${started.problems.length} problem(s) found; the configuration is invalid
`);
    return 2;
  }
  const summary = `configuration is valid: ${model.listeners.length} listener(s), ${model.pools.length} pool(s)
`;
  if (options.print) {
    out.write(printNative(model));
    err.write(summary);
  } else out.write(summary);
  return 0;
}
