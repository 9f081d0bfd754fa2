/**
 * The supervisor's own traces: one span per finished operation (config apply, rollback,
 * package install) with a child span per phase. Spans are recorded when the operation ends,
 * from the phase durations it measured (the same numbers as its audit line), so the
 * transactions need no tracing code of their own.
 */

export interface OperationRecord {
  /** Low-cardinality span name, e.g. "config apply". */
  name: string;
  /** When the operation ended, ms since the epoch. */
  endMs: number;
  /** Whole operation; at least the sum of the phases. */
  durationMs: number;
  attributes: Readonly<Record<string, string | number | boolean>>;
  /** In order; laid end to end, ending at `endMs`. */
  phases: readonly { name: string; durationMs: number }[];
  /** Set when the operation failed: the span's status message. */
  error?: string;
}

export interface SupervisorTracer {
  operation(record: OperationRecord): void;
}

export const noopTracer: SupervisorTracer = { operation: () => undefined };
