import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { ConfigModel } from "../../../src/core/model.js";
import { descriptorBounds } from "../../../src/data/limits/process-limits.js";
import type { Runtime } from "../../../src/runtime/runtime.js";
import { makeCertificate } from "../../support/certificates.js";
import { cleanupList, silentRuntime } from "../../support/cleanups.js";
import { httpGet } from "../../support/http-backends.js";
import { until } from "../../support/time.js";
import { listenerModel, poolModel } from "../http/harness.js";
import { udpListenerModel } from "../udp/support.js";

/** An HTTP/1.1 member that answers every request with 200 and keeps connections alive. */
async function keepAliveMember(): Promise<{ port: number; open: () => number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", () => s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.1.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const cleanups = cleanupList();

const newRuntime = (): Runtime => silentRuntime(cleanups);

describe("runtime lifecycle", () => {
  it("destroys the member connection pools on stop", async () => {
    const member = await keepAliveMember();
    cleanups.push(member.close);
    const runtime = newRuntime();
    await runtime.apply({
      listeners: [listenerModel({ port: 0 })],
      pools: [poolModel("web", [{ address: "127.0.1.1", port: member.port }])],
    });
    const port = runtime.listeners.get(runtime.current.model.listeners[0]!)!.port;
    expect((await httpGet(port)).status).toBe(200);
    // The member connection went back to the pool, idle and open.
    await until(() => member.open() === 1, "the pooled member connection");
    await runtime.stop();
    await until(() => member.open() === 0, "the pooled connection to close on stop");
  });

  it("keeps no reference to a listener that left the configuration", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const member = await keepAliveMember();
    cleanups.push(member.close);
    const runtime = newRuntime();
    const pools = [poolModel("web", [{ address: "127.0.1.1", port: member.port }])];
    const base = listenerModel({ name: "base", port: 0 });
    const extra = listenerModel({ name: "extra", address: "127.0.0.2", port: 0 });
    const withExtra: ConfigModel = { listeners: [base, extra], pools };
    const without: ConfigModel = { listeners: [base], pools };
    const collected: string[] = [];
    const registry = new FinalizationRegistry<string>((label) => collected.push(label));
    const rounds = 5;
    // In a function of its own so that no local of the test keeps the last listener alive.
    const addAndRemove = async (i: number): Promise<void> => {
      await runtime.apply(withExtra);
      // The counters object lives exactly as long as the listener's closures do.
      registry.register(runtime.listeners.get(extra)!.counters!, `round ${i}`);
      await runtime.apply(without);
      runtime.listeners.collect();
    };
    for (let i = 0; i < rounds; i++) await addAndRemove(i);
    expect(runtime.listeners.openCount()).toBe(0);
    for (let i = 0; i < 50 && collected.length < rounds; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(collected.length).toBe(rounds);
  });

  it("refuses a configuration whose certificate is unusable, naming the file, and keeps the running one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stickylb-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const good = makeCertificate(dir, "good.test");
    const badCert = join(dir, "bad.crt");
    writeFileSync(badCert, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    const runtime = newRuntime();
    const https = (certFile: string) =>
      listenerModel({
        protocol: "HTTPS",
        port: 0,
        tls: [{ certFile, keyFile: good.key }],
        source: { file: join(dir, "lb.yaml"), object: "LoadBalancer/test" },
      });
    const pools = [poolModel("web", [{ address: "127.0.1.1", port: 1 }])];
    await runtime.apply({ listeners: [https(good.cert)], pools });
    const before = runtime.current;
    const refused = runtime.apply({ listeners: [https(badCert)], pools });
    await expect(refused).rejects.toMatchObject({ code: "SLB_ERR_CONFIG_TLS_FILE" });
    await expect(refused).rejects.toThrow(
      `${join(dir, "lb.yaml")}: LoadBalancer/test: listener web: tls[0]: ${badCert}`,
    );
    expect(runtime.current).toBe(before);
  });

  it("splits the descriptor budget by the kinds of listeners each applied configuration has", async () => {
    const runtime = newRuntime();
    const { nofile } = runtime.budgets;
    const bounds = () => [runtime.budgets.udpFlows.max, runtime.budgets.connections.max];
    const pools = [poolModel("web", [{ address: "127.0.1.1", port: 9 }])];
    await runtime.apply({ listeners: [listenerModel({ port: 0 })], pools });
    expect(bounds()).toEqual([0, descriptorBounds(nofile, { udp: false, connections: true }).connections]);
    const udp = udpListenerModel({ defaultPool: "web" });
    await runtime.apply({ listeners: [listenerModel({ port: 0 }), udp], pools });
    const both = descriptorBounds(nofile);
    expect(bounds()).toEqual([both.udpFlows, both.connections]);
    await runtime.apply({ listeners: [udp], pools });
    expect(bounds()).toEqual([descriptorBounds(nofile, { udp: true, connections: false }).udpFlows, 0]);
  });

  it("a refused configuration that also named a new state store leaves the store as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stickylb-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const good = makeCertificate(dir, "good.test");
    const badCert = join(dir, "bad.crt");
    writeFileSync(badCert, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    const runtime = newRuntime();
    const https = (certFile: string) =>
      listenerModel({ protocol: "HTTPS", port: 0, tls: [{ certFile, keyFile: good.key }] });
    const sticky = {
      type: "SOURCE_IP" as const,
      persistenceTimeoutMs: 60_000,
      cookieName: "",
      cookie: { path: "/", domain: "", sameSite: "Lax" as const, secure: "auto" as const, httpOnly: true },
      maxBindings: 100,
    };
    const pools = [poolModel("web", [{ address: "127.0.1.1", port: 1 }], { sessionPersistence: sticky })];
    await runtime.apply({ listeners: [https(good.cert)], pools });
    const state = runtime.poolStates.get("web");
    state?.bindings?.bind("10.0.0.1", "web/127.0.1.1:1");
    // Port 1 on loopback: nothing listens there; the store would only be degraded, never an error.
    const stateStore = { url: "redis://127.0.0.1:1", keyPrefix: "t:" };
    await expect(runtime.apply({ listeners: [https(badCert)], pools, stateStore })).rejects.toMatchObject({
      code: "SLB_ERR_CONFIG_TLS_FILE",
    });
    expect(runtime.stateStore.current).toBeUndefined();
    expect(runtime.stateStore.view).toBeUndefined();
    // The next accepted configuration plans the same pool state as before (no store generation leaked).
    await runtime.apply({ listeners: [https(good.cert)], pools });
    expect(runtime.poolStates.get("web")).toBe(state);
    expect(runtime.poolStates.get("web")?.bindings?.peek("10.0.0.1")?.member).toBe("web/127.0.1.1:1");
    // An unreadable password file refuses the configuration before anything is opened.
    await expect(
      runtime.apply({
        listeners: [https(good.cert)],
        pools,
        stateStore: { ...stateStore, passwordFile: join(dir, "none") },
      }),
    ).rejects.toThrow();
    expect(runtime.stateStore.current).toBeUndefined();
  });
});
