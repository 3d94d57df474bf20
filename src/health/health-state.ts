/**
 * The health state machine of one member (docs/reference/behaviour.md#health), free of sockets and timers so that it can be
 * tested as exact sequences: a healthy member goes down after `maxRetriesDown` consecutive failures
 * (active probes and passive connect failures alike), a down member comes back after `maxRetries`
 * consecutive successful probes. Members start healthy.
 *
 * Only a probe can clear a failed probe. A successful connect from the data path says nothing
 * about the monitored URL (a member can accept connections and serve traffic while its health
 * endpoint fails), so it clears only a streak made of passive failures alone; otherwise a steady
 * client would keep a failing member up for ever.
 */
export interface Thresholds {
  /** Consecutive successes to come back up. */
  readonly maxRetries: number;
  /** Consecutive failures to go down. */
  readonly maxRetriesDown: number;
}

/** A change of health that the caller must write through the status port. */
export interface Transition {
  readonly healthy: boolean;
  readonly reason: string;
}

export class HealthState {
  healthy = true;
  /** Consecutive failures while healthy. */
  failures = 0;
  /** Consecutive successes while down. */
  successes = 0;
  /** How many of `failures` came from probes. */
  private probeFailures = 0;

  constructor(public thresholds: Thresholds) {}

  /**
   * Records a failure (`passive`: a connect failure seen by the data path, else a failed probe);
   * returns the transition to down when the threshold is reached.
   */
  fail(why: string, passive = false): Transition | undefined {
    if (!this.healthy) {
      this.successes = 0;
      return undefined;
    }
    this.failures++;
    if (!passive) this.probeFailures++;
    if (this.failures < this.thresholds.maxRetriesDown) return undefined;
    this.healthy = false;
    this.failures = 0;
    this.probeFailures = 0;
    this.successes = 0;
    return {
      healthy: false,
      reason: `${this.thresholds.maxRetriesDown} consecutive failure(s), last: ${why}`,
    };
  }

  /** Records a successful probe; returns the transition to up when the threshold is reached. */
  succeed(): Transition | undefined {
    if (this.healthy) {
      this.failures = 0;
      this.probeFailures = 0;
      return undefined;
    }
    this.successes++;
    if (this.successes < this.thresholds.maxRetries) return undefined;
    this.healthy = true;
    this.failures = 0;
    this.probeFailures = 0;
    this.successes = 0;
    return { healthy: true, reason: `${this.thresholds.maxRetries} consecutive successful probe(s)` };
  }

  /**
   * Records a connect that worked: it clears a streak of passive failures only. It never counts
   * towards coming back up and never erases a failed probe.
   */
  connectSucceeded(): void {
    if (this.healthy && this.probeFailures === 0) this.failures = 0;
  }
}
