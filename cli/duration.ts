/** Human durations for the CLI: `90` (seconds), `90s`, `30m`, `24h`, `7d`, `2w`. */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds in a duration string, or `null` when it is not one. */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (match === null) return null;
  const value = Number(match[1]) * (UNITS[match[2] || "s"] as number);
  return Number.isSafeInteger(value) ? value : null;
}
