import type { Candidate } from "../../core/member.js";

/**
 * Whether a candidate may take a new client. `eligible` already implies weight > 0 for members
 * built by the registry; every policy checks the weight as well so that a weight-0 member is never
 * picked even if a caller gets the flag wrong.
 */
export function takesNewClients(candidate: Candidate): boolean {
  return candidate.eligible && candidate.weight > 0;
}
