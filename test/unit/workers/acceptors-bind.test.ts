/**
 * The primary of `--workers` binds the TCP-family listeners itself; one it cannot bind never takes
 * the others down: reported with the system's reason, retried on the listener set's schedule
 * (injected timers here), bound once the holder lets go, and its retries stop when a reload
 * removes it. Real sockets on loopback.
 */
import * as net from "node:net";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Acceptors } from "../../../src/cluster/acceptors.js";
import type { ConfigModel } from "../../../src/core/model.js";
import { bindKeyOf } from "../../../src/data/snapshot.js";
import { cleanupList } from "../../support/cleanups.js";
import { holdPort } from "../../support/held-port.js";
import { ManualTimers } from "../../support/manual-timers.js";
import { freeTcpPort } from "../../support/ports.js";
import { until } from "../../support/time.js";
import { listenerModel } from "../http/harness.js";

const log = pino({ level: "silent" });
const cleanups = cleanupList();

function model(ports: { held?: number; free?: number }): ConfigModel {
  const listeners = [];
  if (ports.held !== undefined)
    listeners.push(listenerModel({ name: "held", protocol: "TCP", address: "127.0.0.1", port: ports.held }));
  if (ports.free !== undefined)
    listeners.push(listenerModel({ name: "free", protocol: "TCP", address: "127.0.0.1", port: ports.free }));
  return { listeners, pools: [] };
}

/** Connects and reports which listener's handoff took the socket. */
function handedTo(port: number, handed: string[]): Promise<string | undefined> {
  const before = handed.length;
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      const wait = setInterval(() => {
        if (handed.length > before) {
          clearInterval(wait);
          socket.destroy();
          resolve(handed.at(-1));
        }
      }, 5);
    });
    socket.on("error", () => resolve(undefined));
  });
}

describe("Acceptors with a port held by another socket", () => {
  it("bind the others, report the held one, retry it and bind it once the port is free", async () => {
    const holder = await holdPort();
    cleanups.push(() => holder.release());
    const freePort = await freeTcpPort();
    const timers = new ManualTimers();
    const handed: string[] = [];
    const acceptors = new Acceptors(
      (bindKey, _ip, socket) => {
        handed.push(bindKey);
        socket.destroy();
      },
      log,
      timers,
    );
    cleanups.push(() => acceptors.close());
    const config = model({ held: holder.port, free: freePort });
    const [held, free] = config.listeners.map((l) => bindKeyOf(l)) as [string, string];

    await acceptors.reconcile(config); // does not reject
    expect(acceptors.bindState(free)).toEqual({ bound: true });
    const state = acceptors.bindState(held);
    expect(state).toMatchObject({ bound: false, code: "EADDRINUSE", attempts: 1, retryInMs: 1000 });
    expect(acceptors.listenersUp()).toEqual([
      { listener: "held", up: false },
      { listener: "free", up: true },
    ]);
    expect(await handedTo(freePort, handed)).toBe(free);
    expect(timers.delays()).toEqual([1000]);

    // Still held: the next attempt waits twice as long.
    timers.fireAll();
    await until(() => timers.delays().length === 1, "the second attempt");
    expect(acceptors.bindState(held)).toMatchObject({ bound: false, attempts: 2, retryInMs: 2000 });
    expect(timers.delays()).toEqual([2000]);

    await holder.release();
    cleanups.pop();
    timers.fireAll();
    await until(() => acceptors.bindState(held)?.bound === true, "the held listener to bind");
    expect(acceptors.bindState(held)).toEqual({ bound: true });
    expect(timers.delays()).toEqual([]);
    expect(await handedTo(holder.port, handed)).toBe(held);
  });

  it("stop retrying a listener that a reload removed", async () => {
    const holder = await holdPort();
    cleanups.push(() => holder.release());
    const freePort = await freeTcpPort();
    const timers = new ManualTimers();
    const acceptors = new Acceptors((_k, _ip, socket) => socket.destroy(), log, timers);
    cleanups.push(() => acceptors.close());
    const first = model({ held: holder.port, free: freePort });
    await acceptors.reconcile(first);
    expect(timers.delays()).toEqual([1000]);

    const second = model({ free: freePort });
    acceptors.closeRemoved(second);
    await acceptors.reconcile(second);
    expect(timers.delays()).toEqual([]);
    expect(acceptors.bindState(bindKeyOf(first.listeners[0]!))).toBeUndefined();
    expect(acceptors.listenersUp()).toEqual([{ listener: "free", up: true }]);
  });
});
