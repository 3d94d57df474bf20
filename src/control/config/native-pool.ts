/**
 * Validation of one `spec.pools[]` entry of a native document (docs/configuration.md): its name,
 * algorithm and members here; its session persistence in `native-persistence.ts`, its health
 * monitor in `native-monitor.ts`.
 */

import { endpointOf } from "../../core/member.js";
import type { Algorithm, MemberModel, PoolModel } from "../../core/model.js";
import type { FieldPath } from "./config-error.js";
import { nativeLocator, type PoolEntry } from "./entries.js";
import {
  boolean,
  integer,
  ipAddress,
  isPresent,
  name,
  oneOf,
  optional,
  port,
  type Reporter,
  readList,
  readMap,
  required,
  show,
  text,
} from "./fields.js";
import { readMonitor } from "./native-monitor.js";
import { readPersistence } from "./native-persistence.js";

const POOL_FIELDS = ["name", "algorithm", "sessionPersistence", "healthMonitor", "members"];
const MEMBER_FIELDS = ["address", "port", "weight", "name", "draining"];
const weight = integer(0, 100);

/** A DNS label: member names appear in logs and the dashboard beside Kubernetes Pod names. */
const MEMBER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const memberName = text(
  "a DNS label: 1–63 lower-case letters, digits or '-', starting and ending with a letter or digit",
  (value) => (MEMBER_NAME.test(value) ? undefined : "is not a valid member name"),
);

function readMembers(r: Reporter, path: FieldPath, value: unknown): MemberModel[] {
  const list = readList(r, path, value, "{address, port, weight}");
  if (list === undefined) return [];
  const members: MemberModel[] = [];
  const seen = new Set<string>();
  const names = new Map<string, number>();
  list.forEach((item, i) => {
    const at = [...path, i];
    const obj = readMap(r, at, item, MEMBER_FIELDS);
    if (obj === undefined) return;
    const address = required(r, obj, at, "address", ipAddress);
    const memberPort = required(r, obj, at, "port", port);
    const memberWeight = optional(r, obj, at, "weight", weight, 1) ?? 1;
    const label = optional(r, obj, at, "name", memberName);
    const draining = optional(r, obj, at, "draining", boolean, false) ?? false;
    if (label !== undefined) {
      const first = names.get(label);
      if (first !== undefined) {
        r.error(
          [...at, "name"],
          `${show(label)} is already the name of members[${first}]; member names are unique in a pool`,
          "SLB_ERR_CONFIG_CLASH",
        );
      } else names.set(label, i);
    }
    if (address === undefined || memberPort === undefined) return;
    // Runtime state is keyed by pool + address + port (docs/architecture.md), so a member may appear once.
    const endpoint = endpointOf(address, memberPort);
    if (seen.has(endpoint)) {
      r.error(
        [...at, "address"],
        `${endpoint} is already a member of this pool; list each member once`,
        "SLB_ERR_CONFIG_CLASH",
      );
      return;
    }
    seen.add(endpoint);
    members.push({
      address,
      port: memberPort,
      weight: memberWeight,
      draining,
      ...(label === undefined ? {} : { name: label }),
    });
  });
  return members;
}

/** Validates `spec.pools[index]`; returns undefined only when the entry is not even a mapping. */
export function readPool(r: Reporter, path: FieldPath, value: unknown): PoolEntry | undefined {
  const obj = readMap(r, path, value, POOL_FIELDS);
  if (obj === undefined) return undefined;
  const poolName = required(r, obj, path, "name", name);
  const algorithm = optional(
    r,
    obj,
    path,
    "algorithm",
    oneOf<Algorithm>(["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"]),
    "ROUND_ROBIN",
  );
  const persistence = isPresent(obj, "sessionPersistence")
    ? readPersistence(r, [...path, "sessionPersistence"], obj.sessionPersistence, algorithm)
    : undefined;
  const healthMonitor = isPresent(obj, "healthMonitor")
    ? readMonitor(r, [...path, "healthMonitor"], obj.healthMonitor)
    : undefined;
  const members = isPresent(obj, "members") ? readMembers(r, [...path, "members"], obj.members) : [];

  const model: PoolModel = {
    name: poolName ?? "",
    algorithm: algorithm ?? "ROUND_ROBIN",
    ...(persistence === undefined ? {} : { sessionPersistence: persistence.model }),
    ...(healthMonitor === undefined ? {} : { healthMonitor }),
    members,
    source: { file: r.file, object: r.object },
  };
  return {
    model,
    name: poolName,
    persistence: persistence?.type,
    at: nativeLocator(r.file, () => r.object, r.lineOf, path),
  };
}
