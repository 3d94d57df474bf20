/**
 * The messages between the primary and its workers (JSON over the cluster IPC channel). Requests
 * carry an `id` and are answered by one `reply`; the others are one-way.
 */
import type { ConfigModel } from "../core/model.js";

/** Primary → worker: a connection handed over with its socket. */
export interface ConnectionMessage {
  readonly kind: "connection";
  readonly bindKey: string;
  /** The client address of a PROXY header the primary read. */
  readonly carried?: string;
  /** Base64 of the bytes the primary read past that header. */
  readonly leftover?: string;
}

/** Either way: an APP_COOKIE binding learned (member) or removed (null) in one worker. */
export interface BindingMessage {
  readonly kind: "binding";
  readonly pool: string;
  readonly key: string;
  readonly member: string | null;
}

/** One health state: member id, healthy, reason. */
export type HealthEntry = readonly [id: string, healthy: boolean, reason: string];

/** Worker 1 → primary → other workers: health changes (or, with `full`, every member's health). */
export interface HealthMessage {
  readonly kind: "health";
  readonly full: boolean;
  readonly entries: readonly HealthEntry[];
}

/** Other workers → primary → worker 1: a connect failure, for passive health. */
export interface PassiveMessage {
  readonly kind: "passive";
  readonly member: string;
  readonly reason: string;
}

/** Primary → worker: drain and exit. */
export interface StopMessage {
  readonly kind: "stop";
}

export type Query =
  | { readonly op: "apply"; readonly model: ConfigModel }
  | { readonly op: "metrics" }
  | { readonly op: "status" }
  | { readonly op: "lookup"; readonly pool: string; readonly key: string }
  | { readonly op: "delete"; readonly pool: string; readonly key: string };

export type QueryMessage = { readonly kind: "query"; readonly id: number } & Query;

export interface ReplyMessage {
  readonly kind: "reply";
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

/**
 * Worker → primary, once it listens for messages. Messages sent before that would be lost (the
 * cluster's own "online" comes before the worker's code has run), so the primary waits for this.
 */
export interface HelloMessage {
  readonly kind: "hello";
}

export type ToWorker =
  | ConnectionMessage
  | BindingMessage
  | HealthMessage
  | PassiveMessage
  | StopMessage
  | QueryMessage;
export type ToPrimary = HelloMessage | ReplyMessage | BindingMessage | HealthMessage | PassiveMessage;

/** Environment variables through which a forked worker learns its place. */
export const WORKER_SLOT_ENV = "STICKYLB_WORKER_SLOT";
export const WORKER_COUNT_ENV = "STICKYLB_WORKERS";

export function isMessage<K extends string>(value: unknown, kind: K): value is { kind: K } {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === kind;
}
