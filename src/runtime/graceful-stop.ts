import type { Logger } from "../core/log.js";

/**
 * Waits for the first SIGTERM or SIGINT, then runs `shutdown` (stop accepting, drain open
 * connections up to the drain timeout, close the admin listener) and resolves with exit code 0
 * (SPEC 3). A second signal while draining is ignored: the drain timeout bounds the wait.
 */
export function untilStopSignal(
  log: Logger,
  openConnections: () => number,
  shutdown: () => Promise<void>,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
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
