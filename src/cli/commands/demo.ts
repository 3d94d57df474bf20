/**
 * `stickylb demo` (docs/reference/cli.md): three demo backends, one listener of every kind in front of them on
 * 127.0.0.1, the admin API and dashboard, and a printed list of what to try. It runs on the same
 * Runtime as `stickylb run`; only the configuration comes from code instead of files.
 */

import { type AdminServer, runtimeAdminSource, startAdminServer } from "../../admin/admin-server.js";
import { parseDuration } from "../../control/config/duration.js";
import { systemClock } from "../../core/clock.js";
import { createLogger } from "../../core/log.js";
import { endpointOf } from "../../core/member.js";
import { DEMO_BACKEND_NAMES, type DemoBackend, startDemoBackend } from "../../demo/demo-backends.js";
import { DEMO_LISTENERS, demoModel } from "../../demo/demo-model.js";
import { freePort } from "../../demo/free-ports.js";
import { defaultStateDir } from "../../runtime/cookie-key.js";
import { untilStopSignal } from "../../runtime/graceful-stop.js";
import { Runtime } from "../../runtime/runtime.js";
import type { CliOptions } from "../args.js";
import { UsageError } from "../args.js";
import { packageVersion } from "../package-info.js";

const DEMO_ADDRESS = "127.0.0.1";
const DEFAULT_ADMIN = { address: "127.0.0.1", port: 9901 };
/** Ctrl-C in a demo should not wait out a 30 s drain behind an idle `nc`. */
const DEMO_MAX_DRAIN_MS = 1000;

/** The command to paste for each listener. */
export function tryCommand(protocol: string, name: string, port: number): string {
  const url = `http://${DEMO_ADDRESS}:${port}/`;
  if (protocol === "HTTP") return `curl -c /tmp/jar-${name} -b /tmp/jar-${name} ${url}`;
  if (protocol === "UDP") return `nc -u ${DEMO_ADDRESS} ${port}`;
  return `nc ${DEMO_ADDRESS} ${port}`;
}

export function banner(
  backends: readonly DemoBackend[],
  ports: ReadonlyMap<string, number>,
  adminUrl: string | undefined,
): string {
  const lines = [
    "",
    "stickylb demo is running.",
    `Backends: ${backends.map((b) => b.name).join(", ")}; each answers with its own name.`,
    "",
  ];
  for (const d of DEMO_LISTENERS) {
    const port = ports.get(d.name)!;
    lines.push(`  ${d.title}`);
    lines.push(`    ${d.protocol} ${endpointOf(DEMO_ADDRESS, port)}`);
    lines.push(`    try: ${tryCommand(d.protocol, d.name, port)}`);
    if (d.protocol === "UDP") lines.push("         (type a line, press Enter; Ctrl-C ends nc)");
    lines.push("");
  }
  if (adminUrl !== undefined) {
    lines.push(`  Dashboard: ${adminUrl}/`);
    lines.push(`  Metrics:   ${adminUrl}/metrics`);
    lines.push(`  Status:    ${adminUrl}/api/v1/status`);
    lines.push(`  Binding:   curl ${adminUrl}/api/v1/pools/tcp-persistence/bindings?key=127.0.0.1`);
    lines.push(`  Unbind:    curl -X DELETE ${adminUrl}/api/v1/pools/tcp-persistence/bindings?key=127.0.0.1`);
    lines.push(`  Explain:   curl '${adminUrl}/api/v1/explain?listener=tcp-persistence&client=127.0.0.1'`);
    lines.push("");
  }
  lines.push("Every request and connection is logged below as one JSON access log line. Ctrl-C stops.");
  lines.push("");
  return `${lines.join("\n")}\n`;
}

export async function demoCommand(
  options: CliOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const drainTimeoutMs = parseDuration(options.drainTimeout);
  if (drainTimeoutMs === undefined) {
    throw new UsageError(
      `--drain-timeout ${options.drainTimeout} is not accepted (a duration such as 30s or 1m)`,
    );
  }
  const log = createLogger(options.logLevel);
  const backends: DemoBackend[] = [];
  for (const name of DEMO_BACKEND_NAMES) backends.push(await startDemoBackend(name, DEMO_ADDRESS));
  const ports = new Map<string, number>();
  for (const d of DEMO_LISTENERS) {
    ports.set(d.name, await freePort(d.protocol === "UDP" ? "udp" : "tcp", DEMO_ADDRESS));
  }
  const runtime = new Runtime({
    clock: systemClock,
    log,
    drainTimeoutMs: Math.min(drainTimeoutMs, DEMO_MAX_DRAIN_MS),
    stateDir: options.stateDir ?? defaultStateDir(process.env),
  });
  const closeBackends = () => Promise.all(backends.map((b) => b.close()));
  try {
    await runtime.apply(demoModel(backends, ports, DEMO_ADDRESS));
  } catch (e) {
    err.write(`stickylb demo: ${(e as Error).message}\n`);
    await runtime.stop();
    await closeBackends();
    return 1;
  }

  let admin: AdminServer | undefined;
  const adminAt = options.admin ?? DEFAULT_ADMIN;
  if (adminAt !== "off") {
    const start = (port: number) =>
      startAdminServer(adminAt.address, port, runtimeAdminSource(runtime), log, {
        version: packageVersion(),
      });
    try {
      admin = await start(adminAt.port);
    } catch (e) {
      // The default port may be taken by a running stickylb: the demo then takes any free one.
      if (options.admin === undefined && (e as NodeJS.ErrnoException).code === "EADDRINUSE")
        admin = await start(0);
      else err.write(`stickylb demo: the admin listener could not start: ${(e as Error).message}\n`);
    }
  }
  const adminUrl =
    admin === undefined || adminAt === "off"
      ? undefined
      : `http://${endpointOf(adminAt.address, admin.port)}`;
  out.write(banner(backends, ports, adminUrl));
  log.info({ listeners: DEMO_LISTENERS.length, backends: backends.length }, "stickylb started");

  return untilStopSignal(
    log,
    () => runtime.listeners.openCount(),
    async () => {
      await runtime.stop();
      await admin?.close();
      await closeBackends();
      log.info("stopped");
    },
  );
}
