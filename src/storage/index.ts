export { fsyncDirectory, isErrno, readFileIfExists, removeStaleTemps, stageFile, writeFileAtomic } from "./atomic.js";
export type { AtomicFs, StagedFile, WriteFileAtomicOptions } from "./atomic.js";
export { AuditLog } from "./audit.js";
export type { AuditEntry, AuditFs, AuditLogOptions, WrittenAuditEntry } from "./audit.js";
export type { CorruptionNotice } from "./corrupt.js";
export {
  DOCUMENT_LOSS,
  DOCUMENT_NAMES,
  INSTANCE_UID_SOURCES,
  REMOTE_CONFIG_STATUSES,
  encodeOfferStatus,
  parseOfferStatus,
} from "./documents.js";
export type {
  InstanceUidSource,
  RemoteConfigStatusValue,
  StoredConfigFile,
  StoredInstanceUid,
  StoredRemoteConfig,
  StoredRemoteConfigStatus,
} from "./documents.js";
export { FAILED_HASH_LIMIT, FailedHashSet, withFailedHash } from "./failed-hashes.js";
export { describeWriteError, nodeStateFs, storageFaultCode } from "./fs.js";
export type { StateFs } from "./fs.js";
export { isUuidText, newInstanceUid, uidFromText, uidToText } from "./instance-uid.js";
export { bytesToHex } from "./json-shape.js";
export { OFFER_STATES, PersistedStatus, settleInterrupted } from "./persisted-status.js";
export type { OfferResult, OfferState, OfferStatus, PersistedStatusOptions } from "./persisted-status.js";
export { isPlainFileName, openStateDir, STATE_DIR_MODE, STATE_FILE_NAMES } from "./state-dir.js";
export type { OpenStateDirOptions, StateDir } from "./state-dir.js";
export { DEFAULT_FAILED_HASH_LIMIT, StateCorruptError, StateStore } from "./state.js";
export type { DocumentRead, StateStoreOptions } from "./state.js";
