/**
 * The persistent state store: small JSON documents in the state directory, each replaced
 * atomically. `readJson` never guesses (a missing file is `undefined`, an unusable one a
 * StateCorruptError naming the file); every typed reader goes through `loadJson`, which
 * applies the one corrupt policy (corrupt.ts) and reads an unusable document as absent.
 */
import type { Clock, Logger } from "../deps.js";
import { silentLogger } from "../deps.js";
import { SupervisorError } from "../errors.js";
import { fsyncDirectory, isErrno, readFileIfExists, writeFileAtomic } from "./atomic.js";
import type { AuditLog } from "./audit.js";
import { quarantineFile, setAside } from "./corrupt.js";
import type { CorruptionNotice, CorruptionPolicyOptions } from "./corrupt.js";
import {
  DOCUMENT_LOSS,
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
import { FAILED_HASH_LIMIT, FailedHashSet } from "./failed-hashes.js";
import { nodeStateFs } from "./fs.js";
import type { StateFs } from "./fs.js";
import { newInstanceUid, uidFromText, uidToText } from "./instance-uid.js";
import { bytesToHex } from "./json-shape.js";
import type { StateDir } from "./state-dir.js";

/** A state file exists but cannot be read or understood. `file` is its absolute path. */
export class StateCorruptError extends SupervisorError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super("STATE_CORRUPT", `state file ${file} is unusable: ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}

export const DEFAULT_FAILED_HASH_LIMIT = FAILED_HASH_LIMIT;

export interface StateStoreOptions {
  dir: StateDir;
  clock: Clock;
  /** How many failed config hashes are remembered; the oldest are dropped first. */
  failedHashLimit?: number;
  /** Filesystem seam; defaults to node:fs/promises. */
  fs?: StateFs;
  /** Warned when a document is set aside or a write is refused. */
  logger?: Logger;
  /** Gets one line per document set aside. */
  audit?: AuditLog;
}

/** One read under the corrupt policy. */
export type DocumentRead<T> =
  { kind: "absent" } | { kind: "ok"; value: T } | { kind: "corrupt"; notice: CorruptionNotice };

type RemoteConfigSlot = "lastReceivedRemoteConfig" | "lastWorkingRemoteConfig";

export class StateStore {
  readonly #dir: StateDir;
  readonly #clock: Clock;
  readonly #fs: StateFs;
  readonly #logger: Logger;
  readonly #audit: AuditLog | undefined;
  readonly #failed: FailedHashSet;
  /** Documents set aside in this run, by name: what startup decisions look at. */
  readonly #setAside = new Map<string, CorruptionNotice>();

  constructor(options: StateStoreOptions) {
    this.#dir = options.dir;
    this.#clock = options.clock;
    this.#fs = options.fs ?? nodeStateFs;
    this.#logger = (options.logger ?? silentLogger).child({ component: "storage" });
    this.#audit = options.audit;
    this.#failed = new FailedHashSet({
      what: "failed config hashes",
      logger: this.#logger,
      ...(options.failedHashLimit === undefined ? {} : { limit: options.failedHashLimit }),
      load: async () => (await this.loadJson(DOCUMENT_NAMES.failedConfigHashes, parseFailedHashes)) ?? [],
      save: (hashes) => this.writeJson(DOCUMENT_NAMES.failedConfigHashes, encodeFailedHashes(hashes)),
    });
  }

  /** Absolute path of the state file `name`. */
  path(name: string): string {
    return this.#dir.file(name);
  }

  /** The storage room's logger, for documents other rooms keep through this store. */
  get logger(): Logger {
    return this.#logger;
  }

  /** The notice for `name` when it was set aside in this run. */
  setAsideNotice(name: string): CorruptionNotice | undefined {
    return this.#setAside.get(name);
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
      raw = await readFileIfExists(file, this.#fs.readFile);
    } catch (err) {
      throw new StateCorruptError(file, `cannot read: ${errorText(err)}`, { cause: err });
    }
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      throw new StateCorruptError(file, raw.length === 0 ? "empty" : `not valid JSON: ${errorText(err)}`, {
        cause: err,
      });
    }
    try {
      return parse(value);
    } catch (err) {
      throw new StateCorruptError(file, errorText(err), { cause: err });
    }
  }

  /** Reads `name` under the corrupt policy: an unusable document is set aside and reads as corrupt. */
  async loadDocument<T>(name: string, parse: (value: unknown) => T, lost?: string): Promise<DocumentRead<T>> {
    try {
      const value = await this.readJson(name, parse);
      return value === undefined ? { kind: "absent" } : { kind: "ok", value };
    } catch (err) {
      if (!(err instanceof StateCorruptError)) throw err;
      const notice = await setAside(this.#policy(), err.file, err.reason, lost ?? DOCUMENT_LOSS[name] ?? "its content");
      this.#setAside.set(name, notice);
      return { kind: "corrupt", notice };
    }
  }

  /** `loadDocument` for callers that only need the value: unusable reads as undefined. */
  async loadJson<T>(name: string, parse: (value: unknown) => T, lost?: string): Promise<T | undefined> {
    const read = await this.loadDocument(name, parse, lost);
    return read.kind === "ok" ? read.value : undefined;
  }

  /**
   * Atomically replaces `name` with `value` as pretty JSON (0600). A directory in its place
   * gets the corrupt policy and the write is retried once; other errors reject as raised.
   */
  async writeJson(name: string, value: unknown): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    try {
      await writeFileAtomic(this.path(name), text, { mode: 0o600, fs: this.#fs });
    } catch (err) {
      if (!isErrno(err, "EISDIR")) throw err;
      const notice = await setAside(
        this.#policy(),
        this.path(name),
        "a directory in its place",
        DOCUMENT_LOSS[name] ?? "its content",
      );
      this.#setAside.set(name, notice);
      await writeFileAtomic(this.path(name), text, { mode: 0o600, fs: this.#fs });
    }
  }

  #policy(): CorruptionPolicyOptions {
    return { fs: this.#fs, clock: this.#clock, logger: this.#logger, audit: this.#audit };
  }

  /** Deletes `name` if present. */
  async remove(name: string): Promise<void> {
    await this.#fs.rm(this.path(name), { force: true });
    await fsyncDirectory(this.#dir.root, this.#fs);
  }

  /**
   * Renames `name` aside to `<name>.corrupt-<time>` so the supervisor can start fresh while
   * the evidence stays on disk. Returns the new path, or undefined when there was no file.
   */
  async quarantine(name: string): Promise<string | undefined> {
    return quarantineFile(this.#fs, this.#clock, this.path(name));
  }

  // --- instance uid --------------------------------------------------------------------

  async readInstanceUid(): Promise<StoredInstanceUid | undefined> {
    return this.loadJson(DOCUMENT_NAMES.instanceUid, parseInstanceUid);
  }

  /** Persists a uid: `generated` by us, or `server` when assigned via new_instance_uid. */
  async writeInstanceUid(uid: Uint8Array, source: InstanceUidSource): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.instanceUid, encodeInstanceUid({ uid: uidToText(uid), source }));
  }

  /**
   * Returns the stored uid, or generates a UUID v7, stores it, and returns it. A stored uid
   * that was unusable is an identity change: logged and audited. A refused write is logged;
   * the uid is used anyway (the next start may pick another one).
   */
  async loadOrCreateInstanceUid(): Promise<{ uid: Uint8Array; text: string; created: boolean }> {
    const read = await this.loadDocument(DOCUMENT_NAMES.instanceUid, parseInstanceUid);
    if (read.kind === "ok") return { uid: uidFromText(read.value.uid), text: read.value.uid, created: false };
    const uid = newInstanceUid(this.#clock.now());
    const text = uidToText(uid);
    if (read.kind === "corrupt") {
      this.#logger.warn(
        { instanceUid: text, file: read.notice.file },
        "identity change: the stored instance uid was unusable; using a new one",
      );
      await this.#audit?.append({
        action: "instance-uid-changed",
        instanceUid: text,
        reason: "the stored instance uid was unusable",
        result: "new-uid",
      });
    }
    await this.writeInstanceUid(uid, "generated").catch((err: unknown) =>
      this.#logger.warn({ err }, "cannot persist the new instance uid; using it for this run"),
    );
    return { uid, text, created: true };
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
    return this.loadJson(DOCUMENT_NAMES[slot], parseRemoteConfig);
  }

  async readRemoteConfigStatus(): Promise<StoredRemoteConfigStatus | undefined> {
    return this.loadJson(DOCUMENT_NAMES.remoteConfigStatus, parseRemoteConfigStatus);
  }

  async writeRemoteConfigStatus(status: StoredRemoteConfigStatus): Promise<void> {
    await this.writeJson(DOCUMENT_NAMES.remoteConfigStatus, encodeRemoteConfigStatus(status));
  }

  // --- failed config hashes (the one bounded set, see failed-hashes.ts) -----------------

  /** Hex strings, oldest first. */
  async readFailedConfigHashes(): Promise<string[]> {
    return this.#failed.list();
  }

  async isFailedConfigHash(hash: Uint8Array): Promise<boolean> {
    return this.#failed.has(bytesToHex(hash));
  }

  /** Remembers `hash` as failed (moving it to the newest position if already known). Never rejects. */
  async addFailedConfigHash(hash: Uint8Array): Promise<void> {
    await this.#failed.add(bytesToHex(hash));
  }

  /** Forgets `hash` (e.g. after it later applied successfully). Never rejects. */
  async removeFailedConfigHash(hash: Uint8Array): Promise<void> {
    await this.#failed.remove(bytesToHex(hash));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
