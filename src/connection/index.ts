/**
 * The connection room: everything about how the supervisor reaches its OpAMP server (and
 * package downloads): the settings in force and where they came from, offers and their
 * trial, persistence, certificate checks, CSR renewal, file watching, TLS options.
 */
export { ConnectionSettings } from "./connection-settings.js";
export type { ConnectionSettingsOptions } from "./connection-settings.js";
export type { OwnTelemetryHandler } from "./offer-parts.js";
export { downloadAuth, downloadTls } from "./download-tls.js";
export { authHeaders } from "./auth.js";
export type { AuthHeaders, AuthSettings } from "./auth.js";
export { serverTarget } from "./target.js";
export type { ServerTarget } from "./target.js";
export { buildTlsOptions, caLabel, certLabel } from "./tls-options.js";
export type { TlsSettings } from "./tls-options.js";
export { SYSTEM_ROOTS, certificateInfo, checkCertificate, parseBundle } from "./certificate.js";
export type {
  CertificateCheck,
  CertificateInfo,
  CertificateProblem,
  CheckCertificateOptions,
  TrustAnchors,
} from "./certificate.js";
export { CONNECTION_STATUSES, CredentialStore, TLS_DOCUMENTS, settingsBaseline } from "./credential-store.js";
export type {
  CertificateRef,
  ConnectionStatusValue,
  PendingCsr,
  StoredCertificate,
  StoredConnectionSettings,
  StoredConnectionStatus,
} from "./credential-store.js";
export { buildCsr, generateCertificateRequest } from "./csr.js";
export type { CertificateRequest, CsrSubject } from "./csr.js";
export { CertificateFileWatcher, readSnapshot } from "./file-watch.js";
export type { FileSnapshot, SnapshotResult, WatchedFiles } from "./file-watch.js";
export { evaluateOffer, parseTlsVersion } from "./offer-policy.js";
export type {
  AcceptedOffer,
  ClientCertificate,
  OfferDecision,
  OfferedSettings,
  SettingsInForce,
  TlsVersion,
} from "./offer-policy.js";
export { looksLikePrivateKey, pemBlocks, pemFromBytes, sha256Hex } from "./pem.js";
export { RenewalScheduler, renewalDue } from "./renewal.js";
export type { RenewalSchedulerOptions, RenewalState } from "./renewal.js";
