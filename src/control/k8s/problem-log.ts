/**
 * The controller's log of configuration problems (docs/kubernetes.md): each problem is logged
 * the first time a rebuild finds it, and again only after it went away and came back, so that a
 * rebuild every few seconds does not repeat itself; errors are counted by kind of object
 * (`stickylb_config_errors_total{kind}`).
 */
import type { Logger } from "../../core/log.js";
import type { ConfigError } from "../config/index.js";

export class ProblemLog {
  /** Problems already logged, so that every rebuild does not log them again. */
  private reported = new Set<string>();
  private now = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly count: (kind: string) => void,
  ) {}

  /** Starts a rebuild: what it does not report again is forgotten when it ends. */
  begin(): void {
    this.now = new Set();
  }

  /** Ends a rebuild. */
  end(): void {
    this.reported = this.now;
  }

  report(problems: readonly ConfigError[], level: "warn" | "error", kind: string): void {
    const now = this.now;
    for (const problem of problems) {
      const line = `${problem.object}: ${problem.path}: ${problem.message}`;
      now.add(line);
      if (this.reported.has(line)) continue;
      const fields = {
        code: problem.code,
        object: problem.object,
        path: problem.path,
        problem: problem.message,
      };
      if (level === "error") {
        this.count(problem.object.split("/")[0] ?? kind);
        this.log.error(fields, "kubernetes object left out (its previous configuration, if any, stays)");
      } else this.log.warn(fields, "kubernetes configuration warning");
    }
  }
}
