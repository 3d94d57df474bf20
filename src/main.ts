#!/usr/bin/env node
import { parseCli, USAGE, UsageError } from "./cli/args.js";
import { demoCommand } from "./cli/commands/demo.js";
import { runCommand } from "./cli/commands/run.js";
import { validateCommand } from "./cli/commands/validate.js";
import { packageVersion } from "./cli/package-info.js";

/** Entry point: parses the command line and sets the process's exit code (docs/reference/cli.md). */
async function main(argv: string[]): Promise<number> {
  try {
    const options = parseCli(argv);
    switch (options.command) {
      case "help":
        process.stdout.write(`${USAGE}\n`);
        return 0;
      case "version":
        process.stdout.write(`stickylb ${packageVersion()}\n`);
        return 0;
      case "validate":
        return validateCommand(options, process.stdout, process.stderr);
      case "run":
        return await runCommand(options, process.stderr);
      case "demo":
        return await demoCommand(options, process.stdout, process.stderr);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`stickylb: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`stickylb: fatal: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Exit even if a stray handle lingers; the unref'd timer never delays a natural exit.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`stickylb: fatal: ${String(err)}\n`);
    process.exit(1);
  },
);
