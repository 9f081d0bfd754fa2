/**
 * One operation at a time: remote configs, restart commands and (later) certificate and
 * package work never race. Remote configs coalesce: only the newest waiting one runs.
 */
import type { Logger } from "../deps.js";

export class OperationQueue {
  #tail: Promise<void> = Promise.resolve();
  #latest = new Map<string, () => Promise<void>>();
  #closed = false;

  constructor(private readonly logger: Logger) {}

  /** Runs `op` after everything queued before it. */
  enqueue(name: string, op: () => Promise<void>): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const run = this.#tail.then(async () => {
      if (this.#closed) return;
      try {
        await op();
      } catch (err) {
        this.logger.error({ err, operation: name }, "operation failed");
      }
    });
    this.#tail = run;
    return run;
  }

  /**
   * Queues `op` under `key`, replacing a not-yet-started one with the same key: a config
   * that was superseded while waiting is never applied.
   */
  enqueueLatest(key: string, op: () => Promise<void>): Promise<void> {
    const waiting = this.#latest.has(key);
    this.#latest.set(key, op);
    if (waiting) return this.#tail;
    return this.enqueue(key, async () => {
      const latest = this.#latest.get(key);
      this.#latest.delete(key);
      if (latest) await latest();
    });
  }

  /** Stops taking work and waits for the running operation. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#latest.clear();
    await this.#tail;
  }
}
