export { fsyncDirectory, isErrno, readFileIfExists, writeFileAtomic } from "./atomic.js";
export type { AtomicFs, WriteFileAtomicOptions } from "./atomic.js";
export { AuditLog } from "./audit.js";
export type { AuditEntry, AuditLogOptions, WrittenAuditEntry } from "./audit.js";
export { DOCUMENT_NAMES, INSTANCE_UID_SOURCES, REMOTE_CONFIG_STATUSES } from "./documents.js";
export type {
  InstanceUidSource,
  RemoteConfigStatusValue,
  StoredConfigFile,
  StoredInstanceUid,
  StoredRemoteConfig,
  StoredRemoteConfigStatus,
} from "./documents.js";
export { isUuidText, newInstanceUid, uidFromText, uidToText } from "./instance-uid.js";
export { bytesToHex } from "./json-shape.js";
export { isPlainFileName, openStateDir, STATE_DIR_MODE, STATE_FILE_NAMES } from "./state-dir.js";
export type { OpenStateDirOptions, StateDir } from "./state-dir.js";
export { DEFAULT_FAILED_HASH_LIMIT, StateCorruptError, StateStore } from "./state.js";
export type { StateStoreOptions } from "./state.js";
