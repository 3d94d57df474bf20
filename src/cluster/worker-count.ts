import { availableParallelism } from "node:os";

/**
 * `--workers N|auto`: a positive integer, or `auto` for one worker per core
 * (`os.availableParallelism()`). Undefined when the text is neither.
 */
export function parseWorkerCount(text: string, cores: number = availableParallelism()): number | undefined {
  if (text === "auto") return Math.max(1, cores);
  if (!/^[1-9]\d{0,3}$/.test(text)) return undefined;
  return Number(text);
}
