/**
 * The one bounded set of offer hashes that failed on their own merits (remote configs,
 * packages): a failed offer is not tried again until the server sends a different hash.
 * Oldest evicted first. The set lives in memory once loaded; a write the disk refuses does
 * not forget a hash: it stays in memory and is persisted with the next change or flush().
 */
import type { Logger } from "../deps.js";

/** How many failed hashes are remembered per offer kind. */
export const FAILED_HASH_LIMIT = 64;

/** `list` with `hex` as its newest entry (moved there if present), bounded to `limit`. */
export function withFailedHash(list: readonly string[], hex: string, limit = FAILED_HASH_LIMIT): string[] {
  return [...list.filter((h) => h !== hex), hex].slice(-limit);
}

export interface FailedHashSetOptions {
  /** Reads the persisted list (hex, oldest first); corrupt or absent reads as []. */
  load(): Promise<string[]>;
  save(hashes: readonly string[]): Promise<void>;
  logger: Logger;
  /** Names the set in log lines, e.g. "failed config hashes". */
  what: string;
  limit?: number;
}

export class FailedHashSet {
  readonly #options: FailedHashSetOptions;
  readonly #limit: number;
  #hashes: string[] | undefined;
  #unsaved = false;
  /** Serialises read-modify-write so two concurrent adds never lose one. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: FailedHashSetOptions) {
    this.#options = options;
    this.#limit = options.limit ?? FAILED_HASH_LIMIT;
    if (!Number.isInteger(this.#limit) || this.#limit < 1) {
      throw new RangeError(`failed hash limit must be a positive integer, got ${this.#limit}`);
    }
  }

  /** Hex strings, oldest first. */
  list(): Promise<string[]> {
    return this.#run(async () => [...(await this.#loaded())]);
  }

  async has(hex: string): Promise<boolean> {
    return (await this.list()).includes(hex);
  }

  /** Remembers `hex` (as the newest). Never rejects: a refused write is retried later. */
  add(hex: string): Promise<void> {
    return this.#run(async () => {
      this.#hashes = withFailedHash(await this.#loaded(), hex, this.#limit);
      await this.#save();
    });
  }

  /** Forgets `hex` (e.g. after it later applied). Never rejects. */
  remove(hex: string): Promise<void> {
    return this.#run(async () => {
      const hashes = await this.#loaded();
      if (!hashes.includes(hex) && !this.#unsaved) return;
      this.#hashes = hashes.filter((h) => h !== hex);
      await this.#save();
    });
  }

  /** Persists a set an earlier write could not. */
  flush(): Promise<void> {
    return this.#run(async () => {
      if (this.#unsaved) await this.#save();
    });
  }

  async #loaded(): Promise<string[]> {
    this.#hashes ??= (await this.#options.load()).slice(-this.#limit);
    return this.#hashes;
  }

  async #save(): Promise<void> {
    try {
      await this.#options.save(this.#hashes ?? []);
      if (this.#unsaved)
        this.#options.logger.info({ what: this.#options.what }, "persisted again after an earlier write failed");
      this.#unsaved = false;
    } catch (err) {
      if (!this.#unsaved)
        this.#options.logger.warn(
          { err, what: this.#options.what },
          "cannot persist; kept in memory until writing works again",
        );
      this.#unsaved = true;
    }
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
