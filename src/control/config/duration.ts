/**
 * Durations of the native format: a whole number with a unit, several parts allowed in
 * descending unit order (`250ms`, `2s`, `30m`, `1h30m`, `7d`), as Go's time.ParseDuration and
 * HAProxy's timeouts read them, minus fractions and negative values.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly Unit[] = ["d", "h", "m", "s", "ms"];

/** Milliseconds, or undefined when `text` is not a duration. `ms` is tried before `m`. */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0) return undefined;
  const part = /(\d+)(ms|d|h|m|s)/y;
  let offset = 0;
  let total = 0;
  let lastRank = -1;
  while (offset < text.length) {
    part.lastIndex = offset;
    const match = part.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as Unit;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastRank) return undefined;
    lastRank = rank;
    total += Number(match[1]) * UNIT_MS[unit];
    offset = part.lastIndex;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** The shortest text that {@link parseDuration} reads back as `ms` (rounded to a whole ms). */
export function formatDuration(ms: number): string {
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0ms";
  let out = ms < 0 ? "-" : "";
  for (const unit of UNIT_ORDER) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
