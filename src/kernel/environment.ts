import { readFileSync } from "node:fs";
import { StickyError } from "../errors/codes.js";
import type { NftRun } from "./nft-command.js";

/** Why the kernel plane cannot run here: which requirement is missing, and how to fix it. */
export class KernelEnvironmentError extends StickyError {
  constructor(
    readonly missing: "nft" | "nf_tables" | "CAP_NET_ADMIN",
    message: string,
  ) {
    super("SLB_ERR_KERNEL_ENVIRONMENT", message);
    this.name = "KernelEnvironmentError";
  }
}

/** CAP_NET_ADMIN is capability number 12 (linux/capability.h). */
const CAP_NET_ADMIN_BIT = 12n;

/** Whether this process holds CAP_NET_ADMIN in its effective set, from /proc; undefined if unknown. */
export function hasNetAdmin(status = readProcStatus()): boolean | undefined {
  const line = status?.split("\n").find((l) => l.startsWith("CapEff:"));
  if (line === undefined) return undefined;
  const mask = BigInt(`0x${line.slice("CapEff:".length).trim()}`);
  return ((mask >> CAP_NET_ADMIN_BIT) & 1n) === 1n;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Checks the three requirements of `--l4-dataplane nftables` in the order an operator fixes them:
 * the `nft` program (>= 1.0), CAP_NET_ADMIN, nf_tables in the kernel. Throws a
 * {@link KernelEnvironmentError} with one line that says which and how to fix it.
 */
export async function checkKernelEnvironment(run: NftRun, capabilities = hasNetAdmin): Promise<string> {
  const version = await run(["--version"]);
  if (version.missing === true || version.code !== 0)
    throw new KernelEnvironmentError(
      "nft",
      "--l4-dataplane nftables needs the nft command (nftables >= 1.0), which was not found: install it (apt-get install nftables) or put it on PATH",
    );
  const found = /v(\d+)\.(\d+)/.exec(version.stdout);
  if (found === null || Number(found[1]) < 1)
    throw new KernelEnvironmentError(
      "nft",
      `--l4-dataplane nftables needs nftables >= 1.0, found ${JSON.stringify(version.stdout.trim())}: upgrade the nftables package`,
    );
  if (capabilities() === false)
    throw new KernelEnvironmentError(
      "CAP_NET_ADMIN",
      "--l4-dataplane nftables needs the CAP_NET_ADMIN capability: run as root, or grant it (setcap cap_net_admin+ep, or securityContext.capabilities.add: [NET_ADMIN] in Kubernetes)",
    );
  const probe = await run(["list", "tables"]);
  if (probe.code !== 0) {
    if (/not permitted/i.test(probe.stderr))
      throw new KernelEnvironmentError(
        "CAP_NET_ADMIN",
        "--l4-dataplane nftables needs the CAP_NET_ADMIN capability (nft: operation not permitted): run as root or grant NET_ADMIN",
      );
    throw new KernelEnvironmentError(
      "nf_tables",
      `--l4-dataplane nftables needs nf_tables in the kernel (nft: ${probe.stderr.split("\n")[0] ?? "failed"}): load it (modprobe nf_tables) or use a kernel built with it`,
    );
  }
  return `${found[1]}.${found[2]}`;
}
