import type { MemberRuntime } from "./member-runtime.js";

/**
 * Where the data path reports the outcome of connects to members (passive health, docs/reference/behaviour.md#health).
 * The health module implements it; the data path never changes health itself.
 */
export interface ConnectOutcomeSink {
  connectFailed(member: MemberRuntime, reason: string): void;
  connectSucceeded(member: MemberRuntime): void;
}

export const IGNORE_CONNECT_OUTCOMES: ConnectOutcomeSink = {
  connectFailed: () => {},
  connectSucceeded: () => {},
};
