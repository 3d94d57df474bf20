/**
 * A listener socket that is bound and serving. The listener set keeps one per bind key across
 * snapshots; the listener reads its model from the current snapshot for every new client.
 */
export interface RunningListener {
  readonly bindKey: string;
  /** The port actually bound (differs from the model's when it asked for port 0 in tests). */
  readonly port: number;
  /** Stops accepting new clients; open connections continue. */
  stopAccepting(): Promise<void>;
  /** Open client connections (TCP/HTTP) or flows (UDP). */
  openCount(): number;
  /** Closes every open connection or flow now. */
  closeAll(): void;
}
