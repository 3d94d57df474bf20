/**
 * The native configuration most e2e tests need: one listener on 127.0.0.1 in front of one pool.
 * One builder instead of a copy per test file; a test that needs more writes its YAML itself.
 */
import { membersYaml } from "./stickylb-process.js";

export interface OnePoolConfig {
  /** `metadata.name`. */
  readonly name: string;
  readonly protocol: "TCP" | "UDP" | "HTTP";
  readonly port: number;
  /** The listener's name (default `l`). */
  readonly listenerName?: string;
  /** More fields of the listener's flow mapping, starting with a comma (e.g. `, maxFlows: 3`). */
  readonly listenerExtra?: string;
  /** The pool's name (default `p`). */
  readonly poolName?: string;
  /** More lines of the pool (algorithm, sessionPersistence, healthMonitor…), indented six spaces. */
  readonly pool?: string;
  readonly members: readonly { address: string; port: number }[];
}

export function onePoolConfig(c: OnePoolConfig): string {
  const pool = c.poolName ?? "p";
  const poolLines = (c.pool ?? "").replace(/\n+$/, "");
  return `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: ${c.name}}
spec:
  listeners:
    - {name: ${c.listenerName ?? "l"}, protocol: ${c.protocol}, address: 127.0.0.1, port: ${c.port}, defaultPool: ${pool}${c.listenerExtra ?? ""}}
  pools:
    - name: ${pool}
${poolLines === "" ? "" : `${poolLines}\n`}      members:
${membersYaml(c.members)}
`;
}
