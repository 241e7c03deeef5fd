/**
 * Structured JSON log lines for Workers Logs / Logpush. Callers pass only fields that are safe to log:
 * never a secret, a secret hash, a token or an Authorization header.
 */

export type LogLevel = "info" | "warn" | "error";

/** Writes one JSON line; `error` goes to `console.error` so it is flagged as an error by Workers Logs. */
export function log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
