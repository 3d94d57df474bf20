import type { Logger } from "../core/log.js";

/**
 * Waits for the first SIGTERM or SIGINT, then runs `shutdown` (stop accepting, drain open
 * connections up to the drain timeout, close the admin listener) and resolves with exit code 0
 * (docs/reference/cli.md). A second signal while draining is ignored: the drain timeout bounds the wait.
 */
export function untilStopSignal(
  log: Logger,
  openConnections: () => number,
  shutdown: () => Promise<void>,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    // Signal handlers do not keep Node running: a process whose listeners all run in the kernel,
    // with no admin server, would otherwise exit as soon as it started.
    const keepAlive = setInterval(() => {}, 2 ** 30);
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(keepAlive);
      log.info({ signal, open: openConnections() }, "stopping: draining open connections");
      void shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, "error while stopping");
          resolve(0);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
