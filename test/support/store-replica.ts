/**
 * stickylb processes with a state store, for the end-to-end tests of shared state.
 */
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "./stickylb-process.js";

/**
 * What those tests check is what replicas share, not the 50 ms budget (shared-state-slow does
 * that): a budget of 3 s keeps a loaded machine from turning a slow loopback round trip into a
 * miss that the test would read as a consistency bug.
 */
export const LOADED_MACHINE: Readonly<Record<string, string>> = { STICKYLB_TEST_STORE_BUDGET_MS: "3000" };

/** Runs stickylb on `yaml` with `--state-store url`; resolves once it reports the store up. */
export async function runStoreReplica(
  url: string,
  yaml: string,
  env: NodeJS.ProcessEnv = LOADED_MACHINE,
  upWithinMs = 10_000,
): Promise<StickylbProcess> {
  const file = writeConfig(tempDir(), "lb.yaml", yaml);
  const proc = await runStickylb([file], ["--state-store", url], env);
  await proc.waitForLog((e) => e.msg === "state store up", upWithinMs);
  return proc;
}
