/**
 * What the upgrade room keeps in the state directory, as typed JSON documents:
 *
 * - package-state.json     what is installed (from which offer), the last fully processed
 *                          all_packages_hash, the package hashes that failed on their own merits;
 * - package-statuses.json  the PackageStatuses last reported, resent at start;
 * - upgrade-journal.json   present only while a binary swap is in flight (see reconcile.ts).
 *
 * Hashes are opaque server bytes, hex on disk.
 */
import { FAILED_HASH_LIMIT, withFailedHash } from "../storage/index.js";
import type { StateStore } from "../storage/index.js";
import {
  ShapeError,
  bytesToHex,
  expectArray,
  expectHex,
  expectObject,
  expectOneOf,
  expectString,
  expectVersion,
} from "../storage/json-shape.js";
import type { JsonObject } from "../storage/json-shape.js";

export const PACKAGE_DOCUMENTS = {
  state: "package-state.json",
  statuses: "package-statuses.json",
  journal: "upgrade-journal.json",
} as const;

/** What the supervisor goes on without when a document is unusable (for the one warning). */
const LOST: Readonly<Record<string, string>> = {
  [PACKAGE_DOCUMENTS.state]:
    "the record of installed packages and of packages that failed before: the local binary counts as installed",
  [PACKAGE_DOCUMENTS.statuses]: "the package statuses last reported: recomputed from the binary that runs",
  [PACKAGE_DOCUMENTS.journal]: "the journal of an interrupted binary swap: the executable path is checked instead",
};

const VERSION = 1;
/** How many failed package hashes are remembered (the one limit for every offer kind). */
export const FAILED_PACKAGE_LIMIT = FAILED_HASH_LIMIT;

/** Mirrors OpAMP PackageStatusEnum. */
export const PACKAGE_STATUS_VALUES = [
  "INSTALLED",
  "INSTALL_PENDING",
  "INSTALLING",
  "INSTALL_FAILED",
  "DOWNLOADING",
] as const;
export type PackageStatusValue = (typeof PACKAGE_STATUS_VALUES)[number];

export interface StoredPackageStatus {
  name: string;
  agentHasVersion: string;
  agentHasHash: Uint8Array;
  serverOfferedVersion: string;
  serverOfferedHash: Uint8Array;
  status: PackageStatusValue;
  errorMessage: string;
}

export interface StoredPackageStatuses {
  serverProvidedAllPackagesHash: Uint8Array;
  errorMessage: string;
  packages: Record<string, StoredPackageStatus>;
}

export interface InstalledCollector {
  /** Package name in the offer (the top-level package; may be ""). */
  name: string;
  version: string;
  /** PackageAvailable.hash of the offer it came from. */
  hash: Uint8Array;
  contentHash: Uint8Array;
}

export interface StoredPackageState {
  /** all_packages_hash of the last offer processed to the end with nothing left to retry. */
  allPackagesHash: Uint8Array;
  /** The collector as last installed from an offer; null while it is the locally installed one. */
  installed: InstalledCollector | null;
  /** Hex package hashes that failed on their own merits, oldest first. */
  failed: string[];
}

export const JOURNAL_PHASES = ["swapping", "proven", "rolling-back"] as const;
export type JournalPhase = (typeof JOURNAL_PHASES)[number];

export interface JournalFile {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  version: string;
}

/** Written before the first change to the executable's directory, removed after the last. */
export interface UpgradeJournal {
  phase: JournalPhase;
  name: string;
  executable: string;
  backup: string;
  staged: string;
  /** The binary that ran before (its inode is what the backup links to). */
  previous: JournalFile;
  /** The new binary (its inode is what the staged file is). */
  next: JournalFile;
  offer: { version: string; hash: Uint8Array; contentHash: Uint8Array };
  allPackagesHash: Uint8Array;
  /** Why a rollback started (phase rolling-back). */
  reason: string;
  startedAt: string;
}

export const EMPTY_STATE: StoredPackageState = { allPackagesHash: new Uint8Array(0), installed: null, failed: [] };

// --- encode ----------------------------------------------------------------------------

function encodeStatus(s: StoredPackageStatus): object {
  return {
    name: s.name,
    agentHasVersion: s.agentHasVersion,
    agentHasHash: bytesToHex(s.agentHasHash),
    serverOfferedVersion: s.serverOfferedVersion,
    serverOfferedHash: bytesToHex(s.serverOfferedHash),
    status: s.status,
    errorMessage: s.errorMessage,
  };
}

export function encodeStatuses(doc: StoredPackageStatuses): object {
  return {
    version: VERSION,
    serverProvidedAllPackagesHash: bytesToHex(doc.serverProvidedAllPackagesHash),
    errorMessage: doc.errorMessage,
    packages: Object.values(doc.packages).map(encodeStatus),
  };
}

export function encodeState(doc: StoredPackageState): object {
  return {
    version: VERSION,
    allPackagesHash: bytesToHex(doc.allPackagesHash),
    installed: doc.installed && {
      name: doc.installed.name,
      version: doc.installed.version,
      hash: bytesToHex(doc.installed.hash),
      contentHash: bytesToHex(doc.installed.contentHash),
    },
    failed: doc.failed,
  };
}

export function encodeJournal(doc: UpgradeJournal): object {
  return {
    version: VERSION,
    ...doc,
    offer: {
      version: doc.offer.version,
      hash: bytesToHex(doc.offer.hash),
      contentHash: bytesToHex(doc.offer.contentHash),
    },
    allPackagesHash: bytesToHex(doc.allPackagesHash),
  };
}

// --- parse -----------------------------------------------------------------------------

function parseStatus(value: unknown, where: string): StoredPackageStatus {
  const obj = expectObject(value, where);
  return {
    name: expectString(obj, "name", where),
    agentHasVersion: expectString(obj, "agentHasVersion", where),
    agentHasHash: expectHex(obj, "agentHasHash", where),
    serverOfferedVersion: expectString(obj, "serverOfferedVersion", where),
    serverOfferedHash: expectHex(obj, "serverOfferedHash", where),
    status: expectOneOf(obj, "status", PACKAGE_STATUS_VALUES, where),
    errorMessage: expectString(obj, "errorMessage", where),
  };
}

export function parseStatuses(value: unknown): StoredPackageStatuses {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  const packages: Record<string, StoredPackageStatus> = Object.create(null) as Record<string, StoredPackageStatus>;
  expectArray(obj, "packages", "$").forEach((entry, i) => {
    const status = parseStatus(entry, `$.packages[${i}]`);
    packages[status.name] = status;
  });
  return {
    serverProvidedAllPackagesHash: expectHex(obj, "serverProvidedAllPackagesHash", "$"),
    errorMessage: expectString(obj, "errorMessage", "$"),
    packages,
  };
}

export function parseState(value: unknown): StoredPackageState {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  let installed: InstalledCollector | null = null;
  if (obj["installed"] !== null) {
    const inst = expectObject(obj["installed"], "$.installed");
    installed = {
      name: expectString(inst, "name", "$.installed"),
      version: expectString(inst, "version", "$.installed"),
      hash: expectHex(inst, "hash", "$.installed"),
      contentHash: expectHex(inst, "contentHash", "$.installed"),
    };
  }
  const failed = expectArray(obj, "failed", "$").map((entry, i) => {
    if (typeof entry !== "string" || !/^(?:[0-9a-f]{2})*$/.test(entry))
      throw new ShapeError(`$.failed[${i}]: expected lower-case hex`);
    return entry;
  });
  return { allPackagesHash: expectHex(obj, "allPackagesHash", "$"), installed, failed };
}

function parseJournalFile(obj: JsonObject, key: string): JournalFile {
  const where = `$.${key}`;
  const file = expectObject(obj[key], where);
  const [dev, ino, size, mtimeMs] = [file["dev"], file["ino"], file["size"], file["mtimeMs"]];
  if (typeof dev !== "number" || typeof ino !== "number" || typeof size !== "number" || typeof mtimeMs !== "number") {
    throw new ShapeError(`${where}: expected numeric dev, ino, size and mtimeMs`);
  }
  return { dev, ino, size, mtimeMs, version: expectString(file, "version", where) };
}

export function parseJournal(value: unknown): UpgradeJournal {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  const offer = expectObject(obj["offer"], "$.offer");
  return {
    phase: expectOneOf(obj, "phase", JOURNAL_PHASES, "$"),
    name: expectString(obj, "name", "$"),
    executable: expectString(obj, "executable", "$"),
    backup: expectString(obj, "backup", "$"),
    staged: expectString(obj, "staged", "$"),
    previous: parseJournalFile(obj, "previous"),
    next: parseJournalFile(obj, "next"),
    offer: {
      version: expectString(offer, "version", "$.offer"),
      hash: expectHex(offer, "hash", "$.offer"),
      contentHash: expectHex(offer, "contentHash", "$.offer"),
    },
    allPackagesHash: expectHex(obj, "allPackagesHash", "$"),
    reason: expectString(obj, "reason", "$"),
    startedAt: expectString(obj, "startedAt", "$"),
  };
}

// --- store -----------------------------------------------------------------------------

/**
 * Typed access to the three documents through the shared StateStore, under its one corrupt
 * policy (an unusable document is set aside, warned about, audited, and reads as absent).
 */
export class PackageStore {
  /** Failed hashes the disk refused to record; merged into every read and the next write. */
  #unsavedFailed: string[] = [];

  constructor(private readonly store: StateStore) {}

  async readState(): Promise<StoredPackageState> {
    const state = (await this.store.loadJson(PACKAGE_DOCUMENTS.state, parseState, LOST[PACKAGE_DOCUMENTS.state])) ?? {
      ...EMPTY_STATE,
      failed: [],
    };
    return this.#unsavedFailed.length === 0
      ? state
      : { ...state, failed: this.#unsavedFailed.reduce((list, hex) => withFailedHash(list, hex), state.failed) };
  }

  async writeState(state: StoredPackageState): Promise<void> {
    const failed = this.#unsavedFailed.reduce((list, hex) => withFailedHash(list, hex), state.failed);
    await this.store.writeJson(PACKAGE_DOCUMENTS.state, encodeState({ ...state, failed }));
    this.#unsavedFailed = [];
  }

  /**
   * Remembers a package hash as bad (the one bounded set; the newest kept). Never rejects: a
   * hash the disk refused stays in memory and is written with the next state write.
   */
  async addFailed(hash: Uint8Array): Promise<void> {
    const hex = bytesToHex(hash);
    try {
      const state = await this.readState();
      await this.writeState({ ...state, failed: withFailedHash(state.failed, hex) });
    } catch (err) {
      this.#unsavedFailed = withFailedHash(this.#unsavedFailed, hex);
      this.store.logger.warn(
        { err, hash: hex },
        "cannot persist a failed package hash; kept in memory until writing works again",
      );
    }
  }

  async readStatuses(): Promise<StoredPackageStatuses | undefined> {
    return this.store.loadJson(PACKAGE_DOCUMENTS.statuses, parseStatuses, LOST[PACKAGE_DOCUMENTS.statuses]);
  }

  async writeStatuses(statuses: StoredPackageStatuses): Promise<void> {
    await this.store.writeJson(PACKAGE_DOCUMENTS.statuses, encodeStatuses(statuses));
  }

  async readJournal(): Promise<UpgradeJournal | undefined> {
    return this.store.loadJson(PACKAGE_DOCUMENTS.journal, parseJournal, LOST[PACKAGE_DOCUMENTS.journal]);
  }

  async writeJournal(journal: UpgradeJournal): Promise<void> {
    await this.store.writeJson(PACKAGE_DOCUMENTS.journal, encodeJournal(journal));
  }

  async removeJournal(): Promise<void> {
    await this.store.remove(PACKAGE_DOCUMENTS.journal);
  }

  /** Renames a corrupt document aside so the supervisor can start; returns where it went. */
  async quarantine(name: string): Promise<string | undefined> {
    return this.store.quarantine(name);
  }

  /** The storage room's logger (the status book warns through it). */
  get logger(): StateStore["logger"] {
    return this.store.logger;
  }
}
