import { printNative } from "../../control/config/print-native.js";
import type { CliOptions } from "../args.js";
import { checkCliStart, loadCliConfig, printProblems } from "./config-files.js";

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
  const result = loadCliConfig(options);
  for (const w of result.warnings) err.write(`warning: ${w.format()}\n`);
  if (result.errors.length > 0 || result.model === undefined) {
    printProblems(
      result.errors.map((e) => e.format()),
      err,
    );
    return 2;
  }
  const model = result.model;
  // What `run` refuses at start beyond the files themselves (admin token, cookie key).
  const started = checkCliStart(model, options);
  if (started.problems.length > 0) {
    printProblems(started.problems, err);
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
