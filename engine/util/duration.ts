/**
 * Durations are written the way Prometheus and Go write them: "500ms", "10s", "1m30s", "2h".
 * A bare number is refused on purpose: "10" could mean seconds or milliseconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

export function isDuration(text: string): boolean {
  return WHOLE.test(text);
}

/** Milliseconds in a duration string; throws with the accepted forms when it is not one. */
export function parseDuration(text: string): number {
  if (!isDuration(text)) {
    throw new Error(`"${text}" is not a duration: write it like 500ms, 10s, 1m30s or 2h`);
  }
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
