export interface ReadyState {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface ReadinessOptions {
  /** A successful check this recent answers ready at once. */
  readonly maxAgeMs: number;
  /** A check older than this is renewed in the background. */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

/**
 * /readyz without waiting behind heavy queries. The in-process engine runs a ping after the
 * queries already queued, so a ping per probe took seconds under load while the service was
 * fine. A probe answers from the last check while it succeeded within maxAgeMs, renewing it in
 * the background (one check at a time); it waits for a check only when there is no recent
 * success (at start, after a failure, or when the store has not answered for maxAgeMs), so a
 * store that is really gone still turns the service unready.
 */
export function createReadiness(check: () => Promise<ReadyState>, options: ReadinessOptions): () => Promise<ReadyState> {
  const { maxAgeMs, refreshMs = 1_000, now = () => performance.now() } = options;
  let last: { readonly state: ReadyState; readonly at: number } | undefined;
  let lastOkAt: number | undefined;
  let running: Promise<ReadyState> | undefined;

  const run = (): Promise<ReadyState> => {
    running ??= check()
      .catch((error: unknown): ReadyState => ({ ok: false, reason: error instanceof Error ? error.message : 'store check failed' }))
      .then((state) => {
        const at = now();
        last = { state, at };
        if (state.ok) lastOkAt = at;
        running = undefined;
        return state;
      });
    return running;
  };

  return async () => {
    const current = now();
    if (last?.state.ok && lastOkAt !== undefined && current - lastOkAt < maxAgeMs) {
      if (current - last.at >= refreshMs) void run();
      return last.state;
    }
    return run();
  };
}
