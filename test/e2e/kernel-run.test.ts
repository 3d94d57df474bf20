import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKEND_PORT, createLab, type Lab, netnsUnavailable, VIP, VIP6 } from "../support/netns.js";
import { STICKYLB_MAIN, startStickylb, tempDir, writeConfig } from "../support/stickylb-process.js";

/**
 * The real `stickylb run --l4-dataplane nftables` process, started inside the load balancer's
 * namespace of a lab (test/support/netns.ts): it programs the kernel, serves clients without
 * moving their bytes, refuses a bad environment with exit 2, and deletes its table on SIGTERM.
 */
const unavailable = netnsUnavailable();
const noCapsh = spawnSync("capsh", ["--help"], { stdio: "ignore" }).error !== undefined;

/** User + system CPU time of a process in ms, from /proc/PID/stat (fields 14 and 15, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe.skipIf(unavailable !== undefined)(
  `stickylb run --l4-dataplane nftables${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let lab: Lab;
    let config: string;
    const table = `slbrun${process.pid}`;

    beforeAll(async () => {
      lab = await createLab(8, 2);
      const members = lab.backendAddresses
        .map((a) => `        - {address: ${a}, port: ${BACKEND_PORT}}`)
        .join("\n");
      config = writeConfig(
        tempDir(),
        "lb.yaml",
        `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: k}
spec:
  listeners:
    - {name: tcp, protocol: TCP, address: ${VIP}, port: 80, defaultPool: hash}
    - {name: udp, protocol: UDP, address: ${VIP}, port: 53, defaultPool: hash}
    - {name: pp, protocol: TCP, address: ${VIP}, port: 81, defaultPool: hash, proxyProtocol: true}
    - {name: sticky, protocol: TCP, address: ${VIP}, port: 82, defaultPool: sticky}
  pools:
    - name: sticky
      sessionPersistence: {type: SOURCE_IP, persistenceTimeout: 30m}
      members:
${members}
    - name: hash
      algorithm: SOURCE_IP
      members:
${members}
`,
      );
    }, 60_000);

    afterAll(() => lab?.destroy());

    const tables = () =>
      spawnSync("ip", ["netns", "exec", lab.lb, "nft", "list", "tables"], { encoding: "utf8" }).stdout;

    it("programs the kernel, keeps the PROXY protocol listener in userspace with a warning, and deletes its table on SIGTERM", async () => {
      const lb = startStickylb(
        ["run", "-f", config, "--l4-dataplane", "nftables", "--nft-table", table],
        {},
        ["ip", "netns", "exec", lab.lb],
      );
      try {
        const warning = await lb.waitForLog(
          (e) => e.listener === "pp" && typeof e.reason === "string",
          20_000,
        );
        expect(warning.reason).toMatch(/PROXY protocol/);
        await lb.waitForLog((e) => e.msg === "kernel data plane programmed", 20_000);
        expect(tables()).toContain(`table inet ${table}`);
        const answers = await lab.clients(
          lab.clientAddresses.flatMap((s) => [
            { source: s, protocol: "tcp" as const, port: 80 },
            { source: s, protocol: "tcp" as const, port: 80 },
            { source: s, protocol: "udp" as const, port: 53 },
          ]),
        );
        expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
        for (let i = 0; i < answers.length; i += 3) {
          expect(answers[i + 1]!.member).toBe(answers[i]!.member);
          expect(answers[i + 2]!.member).toBe(answers[i]!.member);
        }
        // Metrics and the bindings API read the kernel's counters and sets.
        const stickyClients = lab.clientAddresses.slice(0, 4);
        const bound = await lab.clients(
          stickyClients.map((s) => ({ source: s, protocol: "tcp" as const, port: 82 })),
        );
        const admin = await lb.adminPort();
        /** [body, status] of one admin request made inside the LB namespace. */
        const curl = (...args: string[]): [string, string] => {
          const out = spawnSync(
            "ip",
            ["netns", "exec", lab.lb, "curl", "-s", "-w", "\n%{http_code}", ...args],
            {
              encoding: "utf8",
            },
          ).stdout;
          const at = out.lastIndexOf("\n");
          return [out.slice(0, at), out.slice(at + 1)];
        };
        const [metrics] = curl(`http://127.0.0.1:${admin}/metrics`);
        expect(metrics).toContain('stickylb_connections_total{listener="tcp"} 16');
        expect(metrics).toContain('stickylb_connections_total{listener="udp"} 8');
        expect(metrics).toContain('stickylb_connections_total{listener="sticky"} 4');
        expect(metrics).toContain('stickylb_bindings{pool="sticky"} 4');
        // The status document (and so the dashboard) shows the kernel's listeners and bindings.
        const kernel = JSON.parse(curl(`http://127.0.0.1:${admin}/api/v1/status`)[0]).kernel;
        expect(kernel.table).toBe(table);
        expect(kernel.listeners).toContainEqual({
          name: "tcp",
          protocol: "TCP",
          address: VIP,
          port: 80,
          pool: "hash",
          connections: 16,
        });
        expect(kernel.listeners.map((l: { name: string }) => l.name)).not.toContain("pp");
        expect(kernel.pools).toContainEqual({ name: "sticky", algorithm: "ROUND_ROBIN", bindings: 4 });
        expect(kernel.pools).toContainEqual({ name: "hash", algorithm: "SOURCE_IP", bindings: null });
        const url = `http://127.0.0.1:${admin}/api/v1/pools/sticky/bindings?key=${stickyClients[0]}`;
        const [found, status] = curl(url);
        expect(status).toBe("200");
        expect(JSON.parse(found)).toMatchObject({
          bound: true,
          member: bound[0]!.member,
          dataplane: "nftables",
        });
        expect(curl("-X", "DELETE", url)[1]).toBe("200");
        expect(curl(url)[1]).toBe("404");

        // Bytes do not pass through the process: 200 MB echoed by a member cost stickylb no CPU time.
        const pid = lb.child.pid!; // `ip netns exec` execs node, so this is stickylb itself
        const cpuBefore = cpuMs(pid);
        const bulk = await lab.clients([
          { source: lab.clientAddresses[0]!, protocol: "tcp", port: 80, bulkBytes: 200 * 1024 * 1024 },
        ]);
        expect(bulk[0]!.echoed).toBeGreaterThanOrEqual(200 * 1024 * 1024);
        // A relay in the process would spend seconds on 400 MB; housekeeping timers spend a few ms.
        expect(cpuMs(pid) - cpuBefore).toBeLessThan(300);
        expect(await lb.stop("SIGTERM")).toBe(0);
        expect(tables()).not.toContain(table);
      } finally {
        lb.child.kill("SIGKILL");
        spawnSync("ip", ["netns", "exec", lab.lb, "nft", "delete", "table", "inet", table], {
          stdio: "ignore",
        });
      }
    });

    it("serves an IPv6 listener in the kernel, and keeps :: in userspace with the reason", async () => {
      const members6 = lab.backendAddresses6
        .map((a) => `        - {address: "${a}", port: ${BACKEND_PORT}}`)
        .join("\n");
      const config6 = writeConfig(
        tempDir(),
        "lb6.yaml",
        `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: k6}
spec:
  listeners:
    - {name: tcp6, protocol: TCP, address: "${VIP6}", port: 90, defaultPool: hash6}
    - {name: both, protocol: TCP, address: "::", port: 91, defaultPool: hash6}
  pools:
    - name: hash6
      algorithm: SOURCE_IP
      members:
${members6}
`,
      );
      const lb = startStickylb(
        ["run", "-f", config6, "--l4-dataplane", "nftables", "--nft-table", table],
        {},
        ["ip", "netns", "exec", lab.lb],
      );
      try {
        const warning = await lb.waitForLog(
          (e) => e.listener === "both" && typeof e.reason === "string",
          20_000,
        );
        expect(warning.reason).toMatch(/takes IPv4 and IPv6 clients alike/);
        await lb.waitForLog((e) => e.msg === "kernel data plane programmed", 20_000);
        const listed = spawnSync("ip", ["netns", "exec", lab.lb, "nft", "list", "table", "inet", table], {
          encoding: "utf8",
        }).stdout;
        expect(listed).toContain(`ip6 daddr ${VIP6} tcp dport 90`);
        expect(listed).toMatch(/dnat ip6 to jhash ip6 saddr mod 1021/);
        const ask = () =>
          lab.clients(
            lab.clientAddresses6.map((source) => ({
              source,
              protocol: "tcp" as const,
              port: 90,
              address: VIP6,
            })),
          );
        const first = await ask();
        expect(first.filter((a) => a.error !== undefined)).toEqual([]);
        expect((await ask()).map((a) => a.member)).toEqual(first.map((a) => a.member));
        expect(new Set(first.map((a) => a.member)).size).toBe(2);
        expect(await lb.stop("SIGTERM")).toBe(0);
        expect(tables()).not.toContain(table);
      } finally {
        lb.child.kill("SIGKILL");
        spawnSync("ip", ["netns", "exec", lab.lb, "nft", "delete", "table", "inet", table], {
          stdio: "ignore",
        });
      }
    });

    it("exits 2 with one line naming a missing nft", async () => {
      // env, found on the test's PATH, starts node with a PATH that holds no nft.
      const lb = startStickylb(
        ["run", "-f", config, "--l4-dataplane", "nftables", "--nft-table", table],
        {},
        ["ip", "netns", "exec", lab.lb, "env", "PATH=/nonexistent"],
      );
      expect(await lb.exited()).toBe(2);
      expect(lb.stderr().trim()).toMatch(
        /^SLB_ERR_KERNEL_ENVIRONMENT: --l4-dataplane nftables needs the nft command .*apt-get install nftables/,
      );
      expect(tables()).not.toContain(table);
    });

    it("refuses --workers with exit 2, saying why and what to do instead, before touching the kernel", async () => {
      const lb = startStickylb(
        ["run", "-f", config, "--l4-dataplane", "nftables", "--nft-table", table, "--workers", "2"],
        {},
        ["ip", "netns", "exec", lab.lb],
      );
      expect(await lb.exited()).toBe(2);
      expect(lb.stderr()).toMatch(
        /--l4-dataplane nftables is not supported with --workers: one process owns/,
      );
      expect(lb.stderr()).toMatch(/second stickylb with --workers and no --l4-dataplane/);
      expect(tables()).not.toContain(table);
    });

    it.skipIf(noCapsh)(
      "exits 2 with one line naming a missing CAP_NET_ADMIN (needs capsh, package libcap2-bin)",
      () => {
        const result = spawnSync(
          "ip",
          [
            "netns",
            "exec",
            lab.lb,
            "capsh",
            "--drop=cap_net_admin",
            "--",
            "-c",
            `exec "${process.execPath}" "${STICKYLB_MAIN}" run -f "${config}" --admin off --state-dir "${tempDir()}" --l4-dataplane nftables --nft-table ${table}`,
          ],
          { encoding: "utf8", timeout: 20_000 },
        );
        expect(result.status).toBe(2);
        expect(result.stderr.trim()).toMatch(
          /^SLB_ERR_KERNEL_ENVIRONMENT: --l4-dataplane nftables needs the CAP_NET_ADMIN capability/,
        );
        expect(tables()).not.toContain(table);
      },
    );
  },
);
