import cluster from "node:cluster";
import { type FSWatcher, watch } from "node:fs";
import { runtimeAdminSource } from "../../admin/admin-server.js";
import { WORKER_SLOT_ENV } from "../../cluster/messages.js";
import { runPrimary } from "../../cluster/primary-main.js";
import { parseWorkerCount } from "../../cluster/worker-count.js";
import { runWorker } from "../../cluster/worker-main.js";
import { parseDuration } from "../../control/config/duration.js";
import { systemClock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";
import { createLogger } from "../../core/log.js";
import type { ConfigModel } from "../../core/model.js";
import { StickyError } from "../../errors/codes.js";
import { KernelEnvironmentError } from "../../kernel/environment.js";
import { type KernelSeamFactory, kernelSeamFor, openKernelPlane } from "../../kernel/kernel-wiring.js";
import { defaultStateDir, resolveCookieKey } from "../../runtime/cookie-key.js";
import { resolveAdminToken, serveUntilStopped } from "../../runtime/process-wiring.js";
import { Runtime } from "../../runtime/runtime.js";
import { DEFAULT_ADMIN } from "../../runtime/start-checks.js";
import { withStateStoreFlag } from "../../runtime/state-store-link.js";
import { type CliOptions, UsageError } from "../args.js";
import { packageVersion } from "../package-info.js";
import { checkCliStart, loadCliConfig, printProblems } from "./config-files.js";

/**
 * `stickylb run -f PATH…`: load, bind, serve; SIGHUP reloads, SIGTERM/SIGINT drain and exit 0.
 * Resolves with the exit code: 0 clean stop, 2 invalid configuration at start, 1 other fatal error.
 */
export async function runCommand(options: CliOptions, err: NodeJS.WritableStream): Promise<number> {
  const drainTimeoutMs = parseDuration(options.drainTimeout);
  if (drainTimeoutMs === undefined) {
    throw new UsageError(
      `--drain-timeout ${options.drainTimeout} is not accepted (a duration such as 30s or 1m)`,
    );
  }
  const workers = parseWorkerCount(options.workers);
  if (workers === undefined) {
    throw new UsageError(`--workers ${options.workers} is not accepted (a positive integer, or auto)`);
  }
  if (cluster.isWorker) {
    // A process forked by the primary of `--workers N`: it takes its configuration from the primary.
    return runWorker({
      slot: Number(process.env[WORKER_SLOT_ENV] ?? 0),
      log: createLogger(options.logLevel).child({ worker: Number(process.env[WORKER_SLOT_ENV] ?? 0) + 1 }),
      drainTimeoutMs,
      stateDir: options.stateDir ?? defaultStateDir(process.env),
      version: packageVersion(),
    });
  }
  if (workers > 1 && options.metricsAddress !== undefined) {
    throw new UsageError("--metrics-address is not supported with --workers yet (use --admin)");
  }
  if (workers > 1 && options.kubernetes) {
    throw new UsageError(
      "--workers is not supported with --kubernetes yet (run one process per core instead)",
    );
  }
  if (options.l4Dataplane === "nftables" && workers > 1) {
    // One process owns the table: workers would each program it and each delete it on exit, and
    // the kernel already moves the TCP/UDP bytes on every core without them.
    throw new UsageError(
      "--l4-dataplane nftables is not supported with --workers: one process owns the nftables table, " +
        "and the kernel already carries the TCP/UDP listeners on every core. Run it without --workers; " +
        "if HTTP listeners need more cores, serve them from a second stickylb with --workers and no " +
        "--l4-dataplane (docs/kernel-dataplane.md)",
    );
  }
  const log = createLogger(options.logLevel);
  if (options.cookieSecretFile !== undefined) {
    // Checked before anything binds: a missing or short Secret is a clear start error, not a
    // failure at the first HTTP_COOKIE pool.
    try {
      resolveCookieKey({ file: options.cookieSecretFile }, "");
    } catch (e) {
      if (!(e instanceof StickyError)) throw e;
      err.write(`${e.code}: ${e.message}\n`);
      return 2;
    }
  }
  if (options.kubernetes) {
    const admin = options.admin ?? DEFAULT_ADMIN;
    const resolved = resolveAdminToken(admin, options.adminTokenFile, err);
    if (resolved === false) return 2;
    // Loaded only in controller mode: the Kubernetes client and its dependencies take seconds to
    // resolve and load, which `run -f` and every worker would otherwise pay at start.
    const { runController } = await import("../../runtime/kubernetes-main.js");
    const kernel = await kernelPlaneOption(options, log, err);
    if (kernel === 2) return 2;
    return runController(
      {
        ...options,
        ...(kernel === undefined ? {} : { kernel }),
        admin,
        ...(resolved.token === undefined ? {} : { adminToken: resolved.token }),
        version: packageVersion(),
        drainTimeoutMs,
        stateDir: options.stateDir ?? defaultStateDir(process.env),
        clock: systemClock,
        log,
      },
      err,
    );
  }
  const load = (): { model?: ConfigModel; problems: string[] } => {
    const result = loadCliConfig(options);
    const withSecret =
      options.cookieSecretFile === undefined || result.model === undefined
        ? result.model
        : { ...result.model, cookieSecret: { file: options.cookieSecretFile } };
    // The flag wins over spec.stateStore.url; workers of `--workers N` get it with the model.
    const model = withSecret === undefined ? undefined : withStateStoreFlag(withSecret, options.stateStore);
    for (const w of result.warnings) log.warn({ warning: w.format() }, "configuration warning");
    const problems = result.errors.map((e) => e.format());
    return result.errors.length === 0 && model !== undefined ? { model, problems } : { problems };
  };

  const initial = load();
  if (initial.model === undefined) {
    printProblems(initial.problems, err);
    return 2;
  }
  // The same checks as `validate`: what is refused here is refused there.
  const started = checkCliStart(initial.model, options);
  if (started.problems.length > 0) {
    for (const p of started.problems) err.write(`${p}\n`);
    return 2;
  }
  const adminAt = started.admin;
  const token = started.adminToken;
  if (workers > 1) {
    return runPrimary(
      {
        workers,
        initial: initial.model,
        load,
        log,
        drainTimeoutMs,
        stateDir: options.stateDir ?? defaultStateDir(process.env),
        admin: adminAt,
        ...(token === undefined ? {} : { adminToken: token }),
        version: packageVersion(),
        ...(options.watch ? { watch: (reload: () => void) => watchFiles(options.files, reload, log) } : {}),
      },
      err,
    );
  }
  const kernel = await kernelPlaneOption(options, log, err);
  if (kernel === 2) return 2;
  const runtime = new Runtime({
    clock: systemClock,
    log,
    drainTimeoutMs,
    stateDir: options.stateDir ?? defaultStateDir(process.env),
    ...(kernel === undefined ? {} : { kernel: kernel.create }),
  });
  const kernelAdmin = kernel?.wiring()?.adminView();
  const apply = (model: ConfigModel): Promise<void> => runtime.apply(model);
  try {
    await apply(initial.model);
  } catch (e) {
    if (e instanceof StickyError) {
      err.write(`${e.code}: ${e.message}\n`);
      await runtime.stop();
      return 2;
    }
    log.fatal({ err: e }, "could not start");
    err.write(`stickylb: ${(e as Error).message}\n`);
    await runtime.stop();
    return 1;
  }

  const adminSource = runtimeAdminSource(runtime);

  let reloading = Promise.resolve();
  const reload = (): void => {
    reloading = reloading.then(async () => {
      const next = load();
      if (next.model === undefined) {
        runtime.reloads.error++;
        log.error(
          { problems: next.problems },
          "configuration reload refused; the running configuration stays",
        );
        return;
      }
      try {
        await apply(next.model);
        runtime.reloads.ok++;
        log.info({ version: runtime.current.version }, "configuration reloaded");
      } catch (e) {
        runtime.reloads.error++;
        log.error({ err: e }, "configuration reload failed");
      }
    });
  };
  const watchers = options.watch ? watchFiles(options.files, reload, log) : [];
  const { listeners, pools } = initial.model;
  return serveUntilStopped({
    started: () => log.info({ listeners: listeners.length, pools: pools.length }, "stickylb started"),
    admin: adminAt,
    adminToken: token,
    version: packageVersion(),
    log,
    source: kernelAdmin === undefined ? adminSource : { ...adminSource, kernel: kernelAdmin },
    openConnections: () => runtime.listeners.openCount(),
    reload,
    stopData: () => runtime.stop(),
    closing: watchers,
    metricsAddress: options.metricsAddress,
  });
}

/**
 * `--watch`: reloads when a configuration file or folder changes. Editors write files in several
 * steps (truncate, write, rename), so changes are debounced into one reload.
 */
function watchFiles(paths: readonly string[], reload: () => void, log: Logger): FSWatcher[] {
  let timer: NodeJS.Timeout | undefined;
  const changed = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(reload, 250);
  };
  const watchers: FSWatcher[] = [];
  for (const path of paths) {
    try {
      watchers.push(watch(path, changed));
    } catch (err) {
      log.warn({ err, path }, "cannot watch configuration path; SIGHUP still reloads");
    }
  }
  return watchers;
}

/**
 * `--l4-dataplane nftables`: the runtime's seam to the started kernel plane, undefined for
 * userspace, or 2 when the environment cannot run it (one line on stderr says which requirement and
 * how to fix it).
 */
export async function kernelPlaneOption(
  options: { readonly l4Dataplane: string; readonly nftTable: string },
  log: Logger,
  err: NodeJS.WritableStream,
): Promise<KernelSeamFactory | undefined | 2> {
  if (options.l4Dataplane !== "nftables") return undefined;
  try {
    return kernelSeamFor(await openKernelPlane(options.nftTable), options.nftTable, log);
  } catch (e) {
    if (!(e instanceof KernelEnvironmentError)) throw e;
    err.write(`${e.code}: ${e.message}\n`);
    return 2;
  }
}
