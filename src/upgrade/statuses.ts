/**
 * The package statuses the server sees, kept through the one status primitive
 * (PersistedStatus): every state change is persisted and then sent, also when the disk
 * refuses the write, so a full or read-only disk never keeps INSTALL_FAILED from the
 * server; the newest document is written once writing works again. Download progress is only reported, at most once per progress
 * interval.
 *
 * Per package (OpAMP §3.12): agent_has_* is what is installed, server_offered_* what the
 * server offered; INSTALLING, DOWNLOADING and INSTALL_FAILED carry server_offered_hash, and
 * only INSTALL_FAILED carries an error message.
 */
import type { PackageStatusesReport } from "../opamp/domain.js";
import { PersistedStatus } from "../storage/index.js";
import type { PackageStatusValue, PackageStore, StoredPackageStatus, StoredPackageStatuses } from "./state.js";

export interface DownloadDetails {
  percent: number;
  bytesPerSecond: number;
}

/** Where statuses go once the OpAMP client exists. */
export type StatusSink = (statuses: StoredPackageStatuses, details: ReadonlyMap<string, DownloadDetails>) => void;

export class StatusBook {
  readonly #status: PersistedStatus<StoredPackageStatuses>;
  #details = new Map<string, DownloadDetails>();
  #sink: StatusSink | undefined;

  constructor(store: PackageStore, initial: StoredPackageStatuses | undefined) {
    this.#status = new PersistedStatus({
      what: "package statuses",
      logger: store.logger,
      write: (doc) => store.writeStatuses(doc),
      send: () => this.#emit(),
    });
    this.#status.restore(
      initial ?? { serverProvidedAllPackagesHash: new Uint8Array(0), errorMessage: "", packages: {} },
    );
  }

  get current(): StoredPackageStatuses {
    return this.#status.current as StoredPackageStatuses;
  }

  get(name: string): StoredPackageStatus | undefined {
    return this.current.packages[name];
  }

  /** Starts reporting; the current statuses go out at once. */
  attach(sink: StatusSink): void {
    this.#sink = sink;
    this.#emit();
  }

  /** Replaces the whole document (a new offer: packages no longer offered drop out). Never rejects. */
  async replace(doc: StoredPackageStatuses): Promise<void> {
    this.#details.clear();
    await this.#status.set(doc);
  }

  /** Sets one package's status, persists, reports. Never rejects. */
  async set(status: StoredPackageStatus): Promise<void> {
    if (status.status !== "DOWNLOADING") this.#details.delete(status.name);
    const doc = this.current;
    await this.#status.set({ ...doc, packages: { ...doc.packages, [status.name]: cleaned(status) } });
  }

  /** Patches one package (which must exist) with a new state. */
  async update(
    name: string,
    status: PackageStatusValue,
    patch: Partial<Omit<StoredPackageStatus, "name" | "status">> = {},
  ): Promise<void> {
    const previous = this.current.packages[name];
    if (!previous) throw new Error(`no status for package ${JSON.stringify(name)}`);
    await this.set({
      ...previous,
      ...patch,
      status,
      errorMessage: status === "INSTALL_FAILED" ? (patch.errorMessage ?? previous.errorMessage) : "",
    });
  }

  /** Download progress: reported, not persisted. */
  progress(name: string, details: DownloadDetails): void {
    if (this.current.packages[name]?.status !== "DOWNLOADING") return;
    this.#details.set(name, details);
    this.#emit();
  }

  #emit(): void {
    const doc = this.#status.current;
    if (doc) this.#sink?.(doc, new Map(this.#details));
  }
}

/** Enforces the spec's field rules so no caller can send an error with a non-failed state. */
function cleaned(status: StoredPackageStatus): StoredPackageStatus {
  return { ...status, errorMessage: status.status === "INSTALL_FAILED" ? status.errorMessage : "" };
}

/** Throttles progress reports to one per `intervalMs`, and computes the rate over that span. */
export class ProgressMeter {
  #lastAt: number;
  #lastBytes: number;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    startBytes = 0,
  ) {
    this.#lastAt = now();
    this.#lastBytes = startBytes;
  }

  /** Restarts the rate measurement (e.g. a new attempt resuming at `bytes`). */
  reset(bytes: number): void {
    this.#lastAt = this.now();
    this.#lastBytes = bytes;
  }

  /** Details when a report is due, else undefined. */
  sample(received: number, total: number | undefined): DownloadDetails | undefined {
    const at = this.now();
    const elapsed = at - this.#lastAt;
    if (elapsed < this.intervalMs && received !== total) return undefined;
    const bytesPerSecond = elapsed > 0 ? ((received - this.#lastBytes) * 1000) / elapsed : 0;
    this.#lastAt = at;
    this.#lastBytes = received;
    const percent = total !== undefined && total > 0 ? Math.min(100, (received / total) * 100) : 0;
    return { percent: Math.round(percent * 100) / 100, bytesPerSecond: Math.max(0, Math.round(bytesPerSecond)) };
  }
}

/** What the server hears: the stored statuses, with download progress on DOWNLOADING only. */
/** `mask` hides configured secrets in the error texts (they may carry a collector log tail). */
export function toPackageStatuses(
  doc: StoredPackageStatuses,
  details: ReadonlyMap<string, DownloadDetails>,
  mask: (text: string) => string = (text) => text,
): PackageStatusesReport {
  const packages: PackageStatusesReport["packages"] = {};
  for (const s of Object.values(doc.packages)) {
    const progress = s.status === "DOWNLOADING" ? details.get(s.name) : undefined;
    packages[s.name] = {
      name: s.name,
      agentHasVersion: s.agentHasVersion,
      agentHasHash: s.agentHasHash,
      serverOfferedVersion: s.serverOfferedVersion,
      serverOfferedHash: s.serverOfferedHash,
      status: s.status,
      errorMessage: s.status === "INSTALL_FAILED" ? mask(s.errorMessage) : "",
      ...(progress ? { download: { percent: progress.percent, bytesPerSecond: progress.bytesPerSecond } } : {}),
    };
  }
  return {
    packages,
    serverProvidedAllPackagesHash: doc.serverProvidedAllPackagesHash,
    errorMessage: mask(doc.errorMessage),
  };
}
