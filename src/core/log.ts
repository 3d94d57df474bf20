import { type Logger, pino } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured JSON logs on standard output; nothing sensitive (no cookie values, no secrets) is ever logged. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { name: "stickylb" }, timestamp: pino.stdTimeFunctions.isoTime });
}
