/**
 * Capped exponential backoff with full jitter: attempt 1 waits up to base, then doubles to the cap.
 * The Kafka aggregator's store retries and the rater's retries of a failing customer share it.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
