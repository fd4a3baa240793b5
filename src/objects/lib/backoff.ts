import type { RetryPolicy } from "../../config";

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential,
 * capped at `maxMs`, with jitter in [50%, 100%] so that many objects retrying
 * the same failed peer do not all come back at the same instant.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxMs, exponential);
  return Math.max(1, Math.round(capped * (0.5 + random() / 2)));
}

/** True once a piece of work has used all its attempts. */
export function attemptsExhausted(attempts: number, policy: RetryPolicy): boolean {
  return attempts >= policy.maxAttempts;
}
