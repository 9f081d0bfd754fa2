/**
 * The typed state documents: their in-memory shape, their JSON form on disk, and the
 * parsers that check what is read back. Hashes are opaque bytes (hex on disk); config bodies
 * are bytes (base64 on disk), exactly as OpAMP's AgentConfigMap carries them.
 */
import {
  bytesToHex,
  expectArray,
  expectBase64,
  expectHex,
  expectObject,
  expectOneOf,
  expectString,
  expectVersion,
  ShapeError,
} from "./json-shape.js";
import { isUuidText } from "./instance-uid.js";
import { OFFER_STATES } from "./persisted-status.js";
import type { OfferStatus } from "./persisted-status.js";

/** File names of the typed documents inside the state directory. */
export const DOCUMENT_NAMES = {
  instanceUid: "instance-uid.json",
  lastReceivedRemoteConfig: "remote-config-received.json",
  lastWorkingRemoteConfig: "remote-config-working.json",
  remoteConfigStatus: "remote-config-status.json",
  failedConfigHashes: "failed-config-hashes.json",
} as const;

/** What the supervisor goes on without when a document is unusable (for the one warning). */
export const DOCUMENT_LOSS: Readonly<Record<string, string>> = {
  [DOCUMENT_NAMES.instanceUid]: "the agent's identity: agent.instance_id or a new uid is used",
  [DOCUMENT_NAMES.lastReceivedRemoteConfig]: "the last received remote config",
  [DOCUMENT_NAMES.lastWorkingRemoteConfig]:
    "the last working remote config: the collector starts on the last received config, else the fallbacks, else the local files",
  [DOCUMENT_NAMES.remoteConfigStatus]: "the remote config status: recomputed from what runs",
  [DOCUMENT_NAMES.failedConfigHashes]: "the list of remote configs that failed before: they may be tried again",
};

const VERSION = 1;

export const INSTANCE_UID_SOURCES = ["generated", "server"] as const;
export type InstanceUidSource = (typeof INSTANCE_UID_SOURCES)[number];

export interface StoredInstanceUid {
  /** Canonical UUID text of the 16 bytes. */
  uid: string;
  source: InstanceUidSource;
}

export interface StoredConfigFile {
  body: Uint8Array;
  contentType: string;
}

export interface StoredRemoteConfig {
  /** The server's config_hash, stored and echoed as given (opaque). */
  hash: Uint8Array;
  /** File name → file. Empty means "no remote config". */
  configMap: Record<string, StoredConfigFile>;
}

/** Mirrors OpAMP RemoteConfigStatuses: the shared offer states. */
export const REMOTE_CONFIG_STATUSES = OFFER_STATES;
export type RemoteConfigStatusValue = (typeof REMOTE_CONFIG_STATUSES)[number];

export type StoredRemoteConfigStatus = OfferStatus;

// --- instance uid ---------------------------------------------------------------------

export function encodeInstanceUid(doc: StoredInstanceUid): object {
  return { version: VERSION, uid: doc.uid, source: doc.source };
}

export function parseInstanceUid(value: unknown): StoredInstanceUid {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  const uid = expectString(obj, "uid", "$");
  if (!isUuidText(uid)) throw new ShapeError("$.uid: expected canonical UUID text");
  return { uid, source: expectOneOf(obj, "source", INSTANCE_UID_SOURCES, "$") };
}

// --- remote config --------------------------------------------------------------------

export function encodeRemoteConfig(doc: StoredRemoteConfig): object {
  const configMap: Record<string, { body: string; contentType: string }> = {};
  for (const [name, file] of Object.entries(doc.configMap)) {
    configMap[name] = { body: Buffer.from(file.body).toString("base64"), contentType: file.contentType };
  }
  return { version: VERSION, hash: bytesToHex(doc.hash), configMap };
}

export function parseRemoteConfig(value: unknown): StoredRemoteConfig {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  const map = expectObject(obj["configMap"], "$.configMap");
  // A null-prototype record so a file named "__proto__" stays an ordinary key.
  const configMap: Record<string, StoredConfigFile> = Object.create(null) as Record<string, StoredConfigFile>;
  for (const [name, raw] of Object.entries(map)) {
    const where = `$.configMap[${JSON.stringify(name)}]`;
    const file = expectObject(raw, where);
    configMap[name] = {
      body: expectBase64(file, "body", where),
      contentType: expectString(file, "contentType", where),
    };
  }
  return { hash: expectHex(obj, "hash", "$"), configMap };
}

// --- offer statuses (remote config, connection settings: one disk form) ----------------

export function encodeOfferStatus(doc: OfferStatus): object {
  return { version: VERSION, hash: bytesToHex(doc.hash), status: doc.status, errorMessage: doc.errorMessage };
}

export function parseOfferStatus(value: unknown): OfferStatus {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  return {
    hash: expectHex(obj, "hash", "$"),
    status: expectOneOf(obj, "status", OFFER_STATES, "$"),
    errorMessage: expectString(obj, "errorMessage", "$"),
  };
}

export const encodeRemoteConfigStatus = encodeOfferStatus;
export const parseRemoteConfigStatus = parseOfferStatus;

// --- failed config hashes -------------------------------------------------------------

/** Oldest first. */
export function encodeFailedHashes(hashes: readonly string[]): object {
  return { version: VERSION, hashes };
}

/** Returns hex strings, oldest first. */
export function parseFailedHashes(value: unknown): string[] {
  const obj = expectObject(value, "$");
  expectVersion(obj, VERSION, "$");
  return expectArray(obj, "hashes", "$").map((entry, i) => {
    if (typeof entry !== "string" || !/^(?:[0-9a-f]{2})*$/.test(entry)) {
      throw new ShapeError(`$.hashes[${i}]: expected lower-case hex`);
    }
    return entry;
  });
}
