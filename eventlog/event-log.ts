/**
 * The event log between ingest and the aggregator. Embedded mode hands batches straight to the
 * aggregator's sink; scale-out mode puts a broker in between. Ingest sees only `EventLog`, the
 * aggregator only `EventSink`: neither knows which adapter runs.
 */

/** One meter's reading of one event. Decimals are strings, never JS numbers. */
export interface MeterReading {
  readonly meterKey: string;
  /** Decimal(38,9) text; '0' for COUNT meters, which count rows. */
  readonly value: string;
  /** The distinct-value key of UNIQUE_COUNT meters; '' otherwise. */
  readonly valueKey: string;
  /** Canonical JSON object of the meter's group-by dimensions ('{}' when it has none). */
  readonly groupBy: string;
}

/** A validated event, ready to be stored. */
export interface MeteredEvent {
  readonly tenantId: string;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string;
  readonly time: Date;
  /** The event's data, serialized exactly as received (numbers keep their digits). */
  readonly data: string;
  readonly readings: readonly MeterReading[];
}

export interface AppendResult {
  /** Positions, within the appended batch, of events seen before (same tenant and id). */
  readonly duplicates: ReadonlySet<number>;
}

export interface EventLog {
  /**
   * Resolves once every event of the batch is durable (or known to be a duplicate); rejects
   * without having accepted any of them otherwise.
   */
  append(events: readonly MeteredEvent[]): Promise<AppendResult>;
  /** Stops taking batches and finishes those in flight. */
  close(): Promise<void>;
}

export interface BatchPlan {
  /** Per event of the batch: already stored, or an earlier copy in the same batch. */
  readonly duplicate: readonly boolean[];
  /** The events to insert, in batch order. */
  readonly fresh: readonly MeteredEvent[];
}

/**
 * Where the event log hands events to the store (the aggregator implements it): the duplicate
 * check and the insert. Each adapter brings its own batching and retry policy around it.
 */
export interface EventSink {
  /** Splits a batch into duplicates and the events to insert; the first copy of an id wins. */
  plan(events: readonly MeteredEvent[]): Promise<BatchPlan>;
  /**
   * One insert attempt; resolves to the rows written. Retrying with the same token is safe: an
   * attempt that was written but whose answer was lost makes the retry a no-op.
   */
  insert(events: readonly MeteredEvent[], token: string): Promise<number>;
}

/** Thrown when events could not be made durable; the caller answers 503 and the client retries. */
export class EventLogUnavailableError extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventLogUnavailableError';
  }
}
