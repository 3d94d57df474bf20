/**
 * One listener that cannot bind never takes the rest down, end to end: the real `stickylb`
 * process with one listener's port held by the test. The other listener serves, `/readyz` is
 * 200, the held listener shows `stickylb_listener_up` 0 and `bound: false` until the test lets
 * go of the port, then the retry binds it (first retry after 1 s, doubling). In controller mode
 * (against the project's API double) the Service whose port is held gets a Warning Event, and a
 * Normal one once its listener binds. With `--workers 2` the primary holds the TCP sockets and
 * behaves the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { FakeKubeApi } from "../support/fake-kube-api.js";
import { type HeldPort, holdPort } from "../support/held-port.js";
import { endpointSlice, kubeService, startController } from "../support/kube-objects.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { within } from "../support/time.js";

function listenerUp(metrics: string, listener: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`stickylb_listener_up{listener="${listener}"}`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/** The same scenario in one process and with `--workers 2` (where the primary holds the sockets). */
const MODES = [
  {
    describe: "run -f with one listener's port held by another socket",
    it: "serves the other listener, is ready, reports the held one, and binds it once the port is free",
    args: [] as string[],
    backend: { name: "b1", address: "127.0.1.61" },
  },
  {
    describe: "run -f --workers 2 with one listener's port held by another socket",
    it: "the primary starts, the other listener serves, the held one is reported and binds once the port is free",
    args: ["--workers", "2"],
    backend: { name: "w1", address: "127.0.1.62" },
  },
];

for (const mode of MODES) {
  const workers = mode.args.length > 0;
  describe(mode.describe, () => {
    let backend: TcpBackend;
    let proc: StickylbProcess | undefined;
    let holder: HeldPort | undefined;

    beforeAll(async () => {
      backend = await startTcpBackend(mode.backend.name, mode.backend.address);
    });
    afterAll(async () => {
      await proc?.stop();
      await holder?.release();
      await backend.close();
    });

    it(mode.it, async () => {
      holder = await holdPort("127.0.0.1");
      const freePort = await freeTcpPort();
      const file = writeConfig(
        tempDir(),
        "lb.yaml",
        `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: bind-test}
spec:
  listeners:
    - {name: held, protocol: TCP, address: 127.0.0.1, port: ${holder.port}, defaultPool: p}
    - {name: free, protocol: TCP, address: 127.0.0.1, port: ${freePort}, defaultPool: p}
  pools:
    - name: p
      members:
${membersYaml([{ address: mode.backend.address, port: backend.port }])}
`,
      );
      proc = await runStickylb([file], mode.args);
      const warning = await proc.waitForLog((e) => e.code === "SLB_ERR_DATA_BIND");
      expect(warning).toMatchObject({ listener: "held", port: holder.port, retryInMs: 1000 });
      expect(warning.error).toMatch(/EADDRINUSE/);
      expect(await whoAnswers(freePort, "127.0.0.2")).toBe(mode.backend.name);

      const admin = `http://127.0.0.1:${await proc.adminPort()}`;
      // The primary is ready once every worker has applied the configuration.
      if (workers)
        await within(15_000, async () => {
          if ((await fetch(`${admin}/readyz`)).status !== 200) throw new Error("not ready yet");
        });
      expect((await fetch(`${admin}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      expect(listenerUp(metrics, "held")).toBe(0);
      expect(listenerUp(metrics, "free")).toBe(1);
      const status = (await (await fetch(`${admin}/api/v1/status`)).json()) as {
        listeners: { name: string; bound: boolean; error: string | null }[];
      };
      expect(status.listeners.find((l) => l.name === "held")).toMatchObject({ bound: false });
      expect(status.listeners.find((l) => l.name === "held")?.error).toMatch(/EADDRINUSE/);
      expect(status.listeners.find((l) => l.name === "free")).toMatchObject({ bound: true, error: null });

      // A second failed attempt is logged at debug only: one warning per change, not per retry.
      await proc.waitForLog((e) => e.msg === "listener still cannot bind", 10_000);
      await holder.release();
      holder = undefined;
      await within(15_000, async () => {
        const now = await (await fetch(`${admin}/metrics`)).text();
        if (listenerUp(now, "held") !== 1) throw new Error("held listener not bound yet");
      });
      const held = Number(warning.port);
      expect(await whoAnswers(held, "127.0.0.3")).toBe(mode.backend.name);
      const warnings = proc
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"SLB_ERR_DATA_BIND"') && l.includes('"level":40'));
      expect(warnings).toHaveLength(1);
      if (workers) {
        const after = (await (await fetch(`${admin}/api/v1/status`)).json()) as typeof status;
        expect(after.listeners.find((l) => l.name === "held")).toMatchObject({ bound: true, error: null });
      }
    });
  });
}

describe("controller mode with one Service's port held by another socket", () => {
  let backend: TcpBackend;
  let api: FakeKubeApi;
  let proc: StickylbProcess | undefined;
  let holder: HeldPort | undefined;

  beforeAll(async () => {
    backend = await startTcpBackend("k1", "127.0.1.62");
    api = await new FakeKubeApi().start();
    proc = await startController(api, ["--leader-elect=false", "--drain-timeout", "1s"]);
  });
  afterAll(async () => {
    await proc?.stop();
    await holder?.release();
    await api?.close();
    await backend.close();
  });

  it("posts a Warning Event on that Service, serves the other, and a Normal Event once it binds", async () => {
    holder = await holdPort("127.0.0.1");
    const heldPort = holder.port;
    const freePort = await freeTcpPort();
    api.apply(endpointSlice("held", backend.port, ["127.0.1.62"]));
    api.apply(endpointSlice("free", backend.port, ["127.0.1.62"]));
    api.apply(kubeService("held", heldPort));
    api.apply(kubeService("free", freePort));

    const warning = await within(10_000, async () => {
      const found = api.all("Event").find((e) => e.reason === "BindFailed");
      if (found === undefined) throw new Error("no BindFailed Event yet");
      return found;
    });
    expect(warning).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Service", namespace: "shop", name: "held" },
    });
    expect(warning.message).toMatch(/^Service\/shop\/held: listener .* cannot bind: .*EADDRINUSE/);
    expect(await within(5000, () => whoAnswers(freePort, "127.0.0.4"))).toBe("k1");
    const admin = `http://127.0.0.1:${await proc!.adminPort()}`;
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    // Nothing about the Service that binds.
    expect(api.all("Event").filter((e) => (e.involvedObject as { name?: string }).name === "free")).toEqual(
      [],
    );

    await holder.release();
    holder = undefined;
    const fixed = await within(15_000, async () => {
      const found = api.all("Event").find((e) => e.type === "Normal");
      if (found === undefined) throw new Error("no Normal Event yet");
      return found;
    });
    expect(fixed).toMatchObject({ reason: "Configured", involvedObject: { kind: "Service", name: "held" } });
    expect(await whoAnswers(heldPort, "127.0.0.5")).toBe("k1");
    expect(api.all("Event").filter((e) => e.reason === "BindFailed")).toHaveLength(1);
  });
});
