/**
 * The persistent state store: small JSON documents in the state directory, each replaced
 * atomically. Reads never guess: a missing file is `undefined`, an unreadable or malformed
 * one is a StateCorruptError naming the file, and the caller decides whether to quarantine
 * it and start fresh.
 */
import * as fsp from "node:fs/promises";
import type { Clock } from "../deps.js";
import { SupervisorError } from "../errors.js";
import { fsyncDirectory, isErrno, readFileIfExists, writeFileAtomic } from "./atomic.js";
import {
  DOCUMENT_NAMES,
  encodeFailedHashes,
  encodeInstanceUid,
  encodeRemoteConfig,
  encodeRemoteConfigStatus,
  parseFailedHashes,
  parseInstanceUid,
  parseRemoteConfig,
  parseRemoteConfigStatus,
} from "./documents.js";
import type {
  InstanceUidSource,
  StoredInstanceUid,
  StoredRemoteConfig,
  StoredRemoteConfigStatus,
} from "./documents.js";
import { newInstanceUid, uidFromText, uidToText } from "./instance-uid.js";
import { bytesToHex } from "./json-shape.js";
import type { StateDir } from "./state-dir.js";

/** A state file exists but cannot be read or understood. `file` is its absolute path. */
export class StateCorruptError extends SupervisorError {
  readonly file: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super("STATE_CORRUPT", `state file ${file} is unusable: ${reason}`, options);
    this.file = file;
  }
}

export const DEFAULT_FAILED_HASH_LIMIT = 64;

export interface StateStoreOptions {
  dir: StateDir;
  clock: Clock;
  /** How many failed config hashes are remembered; the oldest are dropped first. */
  failedHashLimit?: number;
}

type RemoteConfigSlot = "lastReceivedRemoteConfig" | "lastWorkingRemoteConfig";

export class StateStore {
  readonly #dir: StateDir;
  readonly #clock: Clock;
  readonly #failedHashLimit: number;
  /** Serialises read-modify-write updates so two concurrent adds never lose one. */
  #updates: Promise<unknown> = Promise.resolve();

  constructor(options: StateStoreOptions) {
    this.#dir = options.dir;
    this.#clock = options.clock;
    this.#failedHashLimit = options.failedHashLimit ?? DEFAULT_FAILED_HASH_LIMIT;
    if (!Number.isInteger(this.#failedHashLimit) || this.#failedHashLimit < 1) {
      throw new RangeError(`failedHashLimit must be a positive integer, got ${this.#failedHashLimit}`);
    }
  }

  /** Absolute path of the state file `name`. */
  path(name: string): string {
    return this.#dir.file(name);
  }

  // --- generic documents (other rooms: packages, connection settings, journals) ----------

  /**
   * Reads and parses `name`. `parse` receives the decoded JSON and throws on a bad shape.
   * Returns undefined when the file does not exist; throws StateCorruptError otherwise.
   */
  async readJson<T>(name: string, parse: (value: unknown) => T): Promise<T | undefined> {
    const file = this.path(name);
    let raw: Buffer | undefined;
    try {
      raw = await readFileIfExists(file);
    } catch (err) {
      throw new StateCorruptError(file, `cannot read: ${errorText(err)}`, { cause: err });
    }
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      throw new StateCorruptError(file, `not valid JSON: ${errorText(err)}`, { cause: err });
    }
    try {
      return parse(value);
    } catch (err) {
      throw new StateCorruptError(file, errorText(err), { cause: err });
    }
  }

  /** Atomically replaces `name` with `value` as pretty JSON (0600). */
  async writeJson(name: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.path(name), `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  }

  /** Deletes `name` if present. */
  async remove(name: string): Promise<void> {
    await fsp.rm(this.path(name), { force: true });
    await fsyncDirectory(this.#dir.root);
  }

  /**
   * Renames `name` aside to `<name>.corrupt-<time>` so the supervisor can start fresh while
   * the evidence stays on disk. Returns the new path, or undefined when there was no file.
   */
  async quarantine(name: string): Promise<string | undefined> {
    const file = this.path(name);
    const stamp = new Date(this.#clock.now()).toISOString().replaceAll(":", "-");
    for (let n = 0; n < 1000; n++) {
      const target = `${file}.corrupt-${stamp}${n === 0 ? "" : `-${n}`}`;
      // link + unlink instead of rename: link fails with EEXIST rather than overwriting an
      // earlier quarantined copy taken in the same millisecond.
      try {
        await fsp.link(file, target);
      } catch (err) {
        if (isErrno(err, "ENOENT")) return undefined;
        if (isErrno(err, "EEXIST")) continue;
        throw err;
      }
      await fsp.rm(file, { force: true });
      await fsyncDirectory(this.#dir.root);
      return target;
    }
    throw new Error(`could not find a free quarantine name for ${file}`);
  }

  // --- instance uid --------------------------------------------------------------------

  async readInstanceUid(): Promise<StoredInstanceUid | undefined> {
    return this.readJson(DOCUMENT_NAMES.instanceUid, parseInstanceUid);
  }

  /** Persists a uid: `generated` by us, or `server` when assigned via new_instance_uid. */
  async writeInstanceUid(uid: Uint8Array, source: InstanceUidSource): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.instanceUid, encodeInstanceUid({ uid: uidToText(uid), source }));
  }

  /** Returns the stored uid, or generates a UUID v7, stores it, and returns it. */
  async loadOrCreateInstanceUid(): Promise<{ uid: Uint8Array; text: string; created: boolean }> {
    const stored = await this.readInstanceUid();
    if (stored) return { uid: uidFromText(stored.uid), text: stored.uid, created: false };
    const uid = newInstanceUid(this.#clock.now());
    await this.writeInstanceUid(uid, "generated");
    return { uid, text: uidToText(uid), created: true };
  }

  // --- remote configs ------------------------------------------------------------------

  async readLastReceivedRemoteConfig(): Promise<StoredRemoteConfig | undefined> {
    return this.#readRemoteConfig("lastReceivedRemoteConfig");
  }

  async writeLastReceivedRemoteConfig(config: StoredRemoteConfig): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.lastReceivedRemoteConfig, encodeRemoteConfig(config));
  }

  async readLastWorkingRemoteConfig(): Promise<StoredRemoteConfig | undefined> {
    return this.#readRemoteConfig("lastWorkingRemoteConfig");
  }

  async writeLastWorkingRemoteConfig(config: StoredRemoteConfig): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.lastWorkingRemoteConfig, encodeRemoteConfig(config));
  }

  async #readRemoteConfig(slot: RemoteConfigSlot): Promise<StoredRemoteConfig | undefined> {
    return this.readJson(DOCUMENT_NAMES[slot], parseRemoteConfig);
  }

  async readRemoteConfigStatus(): Promise<StoredRemoteConfigStatus | undefined> {
    return this.readJson(DOCUMENT_NAMES.remoteConfigStatus, parseRemoteConfigStatus);
  }

  async writeRemoteConfigStatus(status: StoredRemoteConfigStatus): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.remoteConfigStatus, encodeRemoteConfigStatus(status));
  }

  // --- failed config hashes (a bounded set, oldest evicted first) ----------------------

  /** Hex strings, oldest first. */
  async readFailedConfigHashes(): Promise<string[]> {
    return (await this.readJson(DOCUMENT_NAMES.failedConfigHashes, parseFailedHashes)) ?? [];
  }

  async isFailedConfigHash(hash: Uint8Array): Promise<boolean> {
    return (await this.readFailedConfigHashes()).includes(bytesToHex(hash));
  }

  /** Remembers `hash` as failed (moving it to the newest position if already known). */
  async addFailedConfigHash(hash: Uint8Array): Promise<void> {
    const hex = bytesToHex(hash);
    await this.#update(async () => {
      const hashes = (await this.readFailedConfigHashes()).filter((h) => h !== hex);
      hashes.push(hex);
      await this.writeJson(
        DOCUMENT_NAMES.failedConfigHashes,
        encodeFailedHashes(hashes.slice(-this.#failedHashLimit)),
      );
    });
  }

  /** Forgets `hash` (e.g. after it later applied successfully). */
  async removeFailedConfigHash(hash: Uint8Array): Promise<void> {
    const hex = bytesToHex(hash);
    await this.#update(async () => {
      const hashes = await this.readFailedConfigHashes();
      if (!hashes.includes(hex)) return;
      await this.writeJson(DOCUMENT_NAMES.failedConfigHashes, encodeFailedHashes(hashes.filter((h) => h !== hex)));
    });
  }

  #update(fn: () => Promise<void>): Promise<void> {
    const next = this.#updates.then(fn);
    this.#updates = next.catch(() => undefined);
    return next;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
