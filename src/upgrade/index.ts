/** The upgrade room: signed collector packages, atomic swaps, rollback, crash reconciliation. */
export { PackageManager, NOT_RETRIED } from "./manager.js";
export type { PackageManagerOptions } from "./manager.js";
export { planOffer } from "./offer.js";
export type { OfferedFile, OfferedPackage, PackagesOffer, OfferPlan, CollectorPlan } from "./offer.js";
export type { InstallOutcome, UpgradeCheckpoint } from "./install.js";
export { toPackageStatuses } from "./statuses.js";
export type { DownloadDetails, StatusSink } from "./statuses.js";
export type {
  PackageStatusValue,
  StoredPackageStatus,
  StoredPackageStatuses,
  StoredPackageState,
  UpgradeJournal,
} from "./state.js";
export { PACKAGE_DOCUMENTS } from "./state.js";
export { sidePaths } from "./swap.js";
export { download } from "./download.js";
export type { DownloadOptions, DownloadResult } from "./download.js";
export { verifyPackage, trustPolicy } from "./verify.js";
export * from "./keys.js";
