import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { createLogger } from "../../src/core/log.js";
import type { ConfigModel, ListenerModel, PoolModel } from "../../src/core/model.js";
import { KernelDataPlane } from "../../src/kernel/kernel-data-plane.js";
import { kernelSeamFor } from "../../src/kernel/kernel-wiring.js";
import { Runtime } from "../../src/runtime/runtime.js";
import { BACKEND_PORT, createLab, type Lab, netnsUnavailable, VIP } from "../support/netns.js";
import { tempDir } from "../support/stickylb-process.js";

/**
 * The kernel plane as a seam of the runtime, shared by `run -f` and `run --kubernetes`: every
 * `Runtime.apply` (a reload, a Kubernetes change) hands userspace the listeners the kernel does not
 * take and re-programs the kernel after the swap; `stop` deletes the table. Inside namespaces this
 * file creates (test/support/netns.ts).
 */
const unavailable = netnsUnavailable();
const source = { file: "lb.yaml", object: "LoadBalancer/k" };

const listener = (name: string, port: number, extra: Partial<ListenerModel> = {}): ListenerModel => ({
  name,
  protocol: "TCP",
  address: VIP,
  port,
  defaultPool: "p",
  rules: [],
  tls: [],
  proxyProtocol: false,
  timeouts: { idleMs: 300_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 },
  maxFlows: 1000,
  accessLog: false,
  source,
  ...extra,
});

const pool = (address: string): PoolModel => ({
  name: "p",
  algorithm: "SOURCE_IP",
  members: [{ address, port: BACKEND_PORT, weight: 1, draining: false }],
  source,
});

describe.skipIf(unavailable !== undefined)(
  `kernel plane in the runtime${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let lab: Lab;
    let runtime: Runtime;
    let seam: ReturnType<typeof kernelSeamFor>;
    const table = `slbrt${process.pid}`;
    const tables = () =>
      spawnSync("ip", ["netns", "exec", lab.lb, "nft", "list", "tables"], { encoding: "utf8" }).stdout;

    beforeAll(async () => {
      lab = await createLab(4, 2);
      const plane = new KernelDataPlane({ table, command: lab.inside(lab.lb, ["nft"]) });
      await plane.start();
      const log = createLogger("silent");
      seam = kernelSeamFor(plane, table, log);
      runtime = new Runtime({
        clock: systemClock,
        log,
        drainTimeoutMs: 1000,
        stateDir: tempDir(),
        kernel: seam.create,
      });
    }, 60_000);

    afterAll(async () => {
      try {
        await runtime?.stop();
      } finally {
        lab?.destroy();
      }
    });

    const members = async () => {
      const answers = await lab.clients(
        lab.clientAddresses.map((s) => ({ source: s, protocol: "tcp" as const, port: 80 })),
      );
      expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
      return new Set(answers.map((a) => a.member));
    };

    it("serves kernel listeners in the kernel and the others in userspace, re-programs after every apply, deletes the table on stop", async () => {
      const [a, b] = lab.backendAddresses as [string, string];
      // The PROXY protocol listener cannot run in the kernel: it binds in userspace (loopback, any port).
      const userspace = listener("pp", 0, { address: "127.0.0.1", proxyProtocol: true });
      const first: ConfigModel = { listeners: [listener("tcp", 80), userspace], pools: [pool(a)] };
      await runtime.apply(first);
      expect([...runtime.current.model.listeners.map((l) => l.name)]).toEqual(["pp"]);
      expect(runtime.listeners.openCount()).toBe(0);
      expect(tables()).toContain(`table inet ${table}`);
      expect(await members()).toEqual(new Set([`${a}:${BACKEND_PORT}`]));

      // A change (a reload, or the controller's next model): the kernel follows the swap.
      await runtime.apply({ ...first, pools: [pool(b)] });
      expect(await members()).toEqual(new Set([`${b}:${BACKEND_PORT}`]));
      const view = seam.wiring()!.adminView();
      await view.refresh();
      expect(view.connections().get("tcp")).toBe(2 * lab.clientAddresses.length);

      await runtime.stop();
      expect(tables()).not.toContain(`table inet ${table}`);
    }, 60_000);
  },
);
