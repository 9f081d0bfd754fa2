/**
 * One operation at a time: remote configs, restart commands, certificate and package work
 * never race. Remote configs coalesce: only the newest waiting one runs.
 *
 * Each operation gets its own AbortSignal: aborted at shutdown, or when its deadline passes
 * (a hung operation must not block every later one forever).
 */
import type { Clock, Logger } from "../deps.js";
import { SupervisorError } from "../errors.js";

export type Operation = (signal: AbortSignal) => Promise<void>;

export interface QueueOptions {
  logger: Logger;
  clock: Clock;
  /** Shutdown: aborts the running operation and stops taking new ones. */
  signal: AbortSignal;
  /** Deadline of an operation that names none. */
  defaultDeadlineMs: number;
}

export class OperationQueue {
  readonly #options: QueueOptions;
  #tail: Promise<void> = Promise.resolve();
  #latest = new Map<string, { op: Operation; deadlineMs: number | undefined }>();
  #closed = false;

  constructor(options: QueueOptions) {
    this.#options = options;
  }

  /** Runs `op` after everything queued before it. */
  enqueue(name: string, op: Operation, deadlineMs?: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const run = this.#tail.then(async () => {
      if (this.#closed || this.#options.signal.aborted) return;
      await this.#run(name, op, deadlineMs ?? this.#options.defaultDeadlineMs);
    });
    this.#tail = run;
    return run;
  }

  /**
   * Queues `op` under `key`, replacing a not-yet-started one with the same key: a config
   * that was superseded while waiting is never applied.
   */
  enqueueLatest(key: string, op: Operation, deadlineMs?: number): Promise<void> {
    const waiting = this.#latest.has(key);
    this.#latest.set(key, { op, deadlineMs });
    if (waiting) return this.#tail;
    return this.enqueue(
      key,
      async (signal) => {
        const latest = this.#latest.get(key);
        this.#latest.delete(key);
        // The signal was made for the deadline of the first one queued; the newest names its own.
        if (latest) await this.#run(key, latest.op, latest.deadlineMs ?? this.#options.defaultDeadlineMs, signal);
      },
      Number.POSITIVE_INFINITY,
    );
  }

  /** Stops taking work and waits for the running operation. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#latest.clear();
    await this.#tail;
  }

  async #run(name: string, op: Operation, deadlineMs: number, outer?: AbortSignal): Promise<void> {
    const { clock, logger, signal: shutdown } = this.#options;
    const deadline = new AbortController();
    const finished = new AbortController();
    if (Number.isFinite(deadlineMs)) {
      clock.sleep(deadlineMs, AbortSignal.any([shutdown, finished.signal])).then(
        () => deadline.abort(new SupervisorError("ABORTED", `operation ${name} passed its ${deadlineMs} ms deadline`)),
        () => undefined,
      );
    }
    const signal = AbortSignal.any([shutdown, deadline.signal, ...(outer ? [outer] : [])]);
    try {
      await op(signal);
    } catch (err) {
      logger.error({ err, operation: name }, "operation failed");
    } finally {
      finished.abort();
      if (deadline.signal.aborted)
        logger.error({ operation: name, deadlineMs }, "operation passed its deadline and was aborted");
    }
  }
}
