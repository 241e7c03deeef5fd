/**
 * Waits until the current minute has at least `needed` seconds left, so a test that counts against a 60 s
 * rate-limit window (or a quota slot aligned to the minute) cannot straddle a window boundary: Miniflare's local
 * Rate Limiting binding (the vitest pool's and `wrangler dev`'s) counts in windows aligned to the wall clock
 * (`floor(now / period)`), so a run of failures that crosses a minute starts counting again from zero.
 * Pure (no runtime imports): the worker pool's tests and the Node e2e tests both use it.
 */
export async function freshMinute(needed = 15): Promise<void> {
  const left = 60 - new Date().getUTCSeconds();
  if (left < needed) await new Promise((r) => setTimeout(r, left * 1000 + 250));
}
