/** The TLS room: certificate checks, offer policy, CSR generation, persistence, renewal timing, file watching. */
export { SYSTEM_ROOTS, certificateInfo, checkCertificate, parseBundle } from "./certificate.js";
export type { CertificateCheck, CertificateInfo, CertificateProblem, CheckCertificateOptions, TrustAnchors } from "./certificate.js";
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
export { evaluateOffer, isSecure, parseTlsVersion } from "./offer-policy.js";
export type { AcceptedOffer, ClientCertificate, OfferDecision, OfferedSettings, SettingsInForce, TlsVersion } from "./offer-policy.js";
export { looksLikePrivateKey, pemBlocks, pemFromBytes, sha256Hex } from "./pem.js";
export { RenewalScheduler, renewalDue } from "./renewal.js";
export type { RenewalSchedulerOptions, RenewalState } from "./renewal.js";
