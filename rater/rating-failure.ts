/**
 * Why a customer could not be rated, in a bounded set (a metric label):
 * - price: a price cannot price the usage (a negative total for a tiered price, an amount
 *   beyond 60 significant digits);
 * - terms: the contract or plan cannot be applied (a charge metering a meter that is gone);
 * - other: the store failed or anything unforeseen.
 */
export type RatingFailureKind = 'price' | 'terms' | 'other';

/**
 * A customer's charges cannot be computed from its usage and terms. The answer for that
 * customer says so and why (422); the rater retries it with backoff while the others go on.
 */
export class RatingFailedError extends Error {
  constructor(
    message: string,
    readonly kind: Exclude<RatingFailureKind, 'other'>,
    /** Where the problem is: charges.<key> for a charge, or the contract. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RatingFailedError';
  }
}

export interface RatingFailure {
  readonly customerId: string;
  readonly kind: RatingFailureKind;
  readonly reason: string;
}

/** The failure of one customer's rating, from whatever was thrown. */
export function ratingFailureOf(customerId: string, error: unknown): RatingFailure {
  if (error instanceof RatingFailedError) return { customerId, kind: error.kind, reason: error.message };
  return { customerId, kind: 'other', reason: error instanceof Error ? error.message : String(error) };
}
