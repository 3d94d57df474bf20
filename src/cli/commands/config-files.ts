/**
 * What `run` and `validate` do alike, so that what one refuses the other refuses: load the files
 * named on the command line (Kubernetes objects converted with the command line's settings), run
 * the start checks, and print problems.
 */
import { type LoadResult, loadConfigFiles } from "../../control/config/load.js";
import { createKubernetesConverter } from "../../control/k8s/index.js";
import type { ConfigModel } from "../../core/model.js";
import { defaultStateDir } from "../../runtime/cookie-key.js";
import { checkStart, type StartCheck } from "../../runtime/start-checks.js";
import type { CliOptions } from "../args.js";

/** Loads `-f PATH…` with the Kubernetes conversion settings of the command line. */
export function loadCliConfig(options: CliOptions): LoadResult {
  return loadConfigFiles(options.files, {
    convertKubernetes: createKubernetesConverter({
      listenAddress: options.listenAddress,
      ingressClasses: options.ingressClasses,
      loadBalancerClass: options.loadBalancerClass,
      gatewayClassController: options.gatewayClassController,
    }),
  });
}

/** What `run` refuses at start beyond the files themselves (admin address and token, cookie key). */
export function checkCliStart(model: ConfigModel, options: CliOptions): StartCheck {
  return checkStart(model, {
    ...(options.admin === undefined ? {} : { admin: options.admin }),
    ...(options.adminTokenFile === undefined ? {} : { adminTokenFile: options.adminTokenFile }),
    stateDir: options.stateDir ?? defaultStateDir(process.env),
  });
}

/** Every problem on its own line, then the count: the configuration is invalid. */
export function printProblems(problems: readonly string[], err: NodeJS.WritableStream): void {
  for (const p of problems) err.write(`${p}\n`);
  err.write(`${problems.length} problem(s) found; the configuration is invalid\n`);
}
