/**
 * The order a service's parts close in, whatever order they started in: the HTTP server first
 * (no new requests), then the rating and alert loops, then the event paths finish their
 * batches, the last requests' key uses are written, and the store closes last, once nothing
 * needs it. Starting follows the flow instead (ingest → aggregator → rater → alerts, the HTTP
 * server opened last), so the two orders are kept apart.
 */
export const SHUTDOWN_ORDER = [
  'http',
  'rater',
  'alert engine',
  'alert outbox',
  'kafka event log',
  'kafka producer',
  'kafka aggregator',
  'event writer',
  'key usage',
  'store',
] as const;

export type PartName = (typeof SHUTDOWN_ORDER)[number];

export interface Shutdown {
  /** Registers a started part; it is closed by close(), in SHUTDOWN_ORDER. */
  add(name: PartName, close: () => Promise<void>): void;
  /** Closes every registered part once; a part that fails to close is logged and the others still close. */
  close(): Promise<void>;
}

/** Where a failed close is reported (the service's logger). */
export interface ShutdownLog {
  error(fields: { readonly err: unknown; readonly part: PartName }, message: string): void;
}

export function createShutdown(log: ShutdownLog): Shutdown {
  const parts: Array<{ readonly name: PartName; readonly close: () => Promise<void> }> = [];
  let closing: Promise<void> | undefined;

  async function closeAll(): Promise<void> {
    const ordered = [...parts].sort((a, b) => SHUTDOWN_ORDER.indexOf(a.name) - SHUTDOWN_ORDER.indexOf(b.name));
    for (const part of ordered) {
      try {
        await part.close();
      } catch (error) {
        log.error({ err: error, part: part.name }, 'close failed');
      }
    }
  }

  return {
    add(name, close) {
      parts.push({ name, close });
    },
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}
