/**
 * When a package download is worth a log line: every PERCENT_STEP percent of a known size,
 * every BYTES_STEP bytes when the server sends no size. The OpAMP status gets finer, timed
 * progress (ProgressMeter); the log gets few lines, so a slow download is visible without
 * flooding it.
 */
export const PERCENT_STEP = 10;
export const BYTES_STEP = 16 * 1024 * 1024;

export class ProgressLog {
  #start = 0;
  /** The step last logged, or the one the download started in. */
  #last: number | undefined;

  /** Restarts the steps from `bytes` (a new attempt resuming there). */
  reset(bytes: number): void {
    this.#start = bytes;
    this.#last = undefined;
  }

  /** The step `received` reached, once per step; undefined between steps. */
  step(received: number, total: number | undefined): { percent: number | undefined; received: number } | undefined {
    const known = total !== undefined && total > 0;
    const index = (bytes: number): number =>
      known ? Math.floor((Math.min(bytes, total) / total) * (100 / PERCENT_STEP)) : Math.floor(bytes / BYTES_STEP);
    this.#last ??= index(this.#start);
    const reached = index(received);
    if (reached <= this.#last) return undefined;
    this.#last = reached;
    return { percent: known ? reached * PERCENT_STEP : undefined, received };
  }
}
