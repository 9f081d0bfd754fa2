/**
 * The upgrade room's front door. Opened at start with everything it needs (the collector
 * controller, where statuses go, how downloads trust servers), it reconciles a crashed
 * upgrade before the collector runs, reports the persisted statuses, then is handed each
 * PackagesAvailable by the supervisor's operation queue, one at a time.
 */
import { stat } from "node:fs/promises";
import type { ConnectionOptions } from "node:tls";
import type { ResolvedPackage } from "../config/schema.js";
import type { CollectorControl } from "../collector/controller.js";
import type { Clock, Logger, Spawner } from "../deps.js";
import type { AuditLog, OfferResult, StateStore } from "../storage/index.js";
import { StateCorruptError, bytesToHex, describeWriteError, storageFaultCode } from "../storage/index.js";
import { finishInstalled, installCollector, sha256File } from "./install.js";
import type { InstallEnv, InstallOutcome, UpgradeCheckpoint } from "./install.js";
import { planOffer } from "./offer.js";
import type { CollectorPlan, PackagesOffer } from "./offer.js";
import { reconcile } from "./reconcile.js";
import type { ReconcileAction } from "./reconcile.js";
import { PACKAGE_DOCUMENTS, PackageStore } from "./state.js";
import type { StoredPackageStatus, StoredPackageStatuses } from "./state.js";
import { StatusBook } from "./statuses.js";
import type { StatusSink } from "./statuses.js";
import { trustPolicy } from "./verify.js";
import type { TrustPolicy } from "./verify.js";

export interface PackageManagerOptions {
  settings: ResolvedPackage;
  executable: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  store: StateStore;
  audit: AuditLog;
  logger: Logger;
  clock: Clock;
  spawn: Spawner;
  checkpoint(step: UpgradeCheckpoint): void;
  /** The supervisor's lifetime. */
  signal: AbortSignal;
  /** The collector, through its controller (its version, config, restart and proof). */
  collector: CollectorControl;
  /** Where statuses go; undefined when package statuses are not reported (capability off). */
  sink: StatusSink | undefined;
  /** TLS for a download URL (what the OpAMP connection trusts now). */
  tlsFor(url: URL): Promise<ConnectionOptions>;
  /** server.auth's headers for downloads from the OpAMP server's own origin. */
  authFor?(url: URL): Promise<Record<string, string>>;
}

export const NOT_RETRIED = "this package failed before and is not installed again; offer a different one";

export class PackageManager {
  readonly #options: PackageManagerOptions;
  readonly #store: PackageStore;
  readonly #book: StatusBook;
  readonly #policy: TrustPolicy;
  readonly #logger: Logger;
  #localHash: { key: string; hash: Uint8Array } | undefined;

  private constructor(
    options: PackageManagerOptions,
    store: PackageStore,
    statuses: StoredPackageStatuses | undefined,
  ) {
    this.#options = options;
    this.#store = store;
    this.#book = new StatusBook(store, statuses);
    this.#policy = trustPolicy(options.settings.publicKeys, options.settings.insecureAcceptUnsignedPackages);
    this.#logger = options.logger.child({ component: "upgrade" });
  }

  static async open(options: PackageManagerOptions): Promise<PackageManager> {
    const store = new PackageStore(options.store);
    let statuses: StoredPackageStatuses | undefined;
    try {
      statuses = await store.readStatuses();
      await store.readState();
    } catch (err) {
      if (!(err instanceof StateCorruptError)) throw err;
      // Unreadable package documents must not keep the collector from running: start fresh.
      for (const name of [PACKAGE_DOCUMENTS.statuses, PACKAGE_DOCUMENTS.state]) await store.quarantine(name);
      options.logger.error({ err }, "package state is unreadable; moved it aside and starting with none");
      statuses = undefined;
    }
    return new PackageManager(options, store, statuses);
  }

  get statuses(): StoredPackageStatuses {
    return this.#book.current;
  }

  /** Finishes or undoes an upgrade a crash interrupted. Call before the collector starts. */
  async reconcile(): Promise<ReconcileAction> {
    const action = await reconcile(
      { store: this.#store, book: this.#book, audit: this.#options.audit, logger: this.#logger },
      this.#options.executable,
    );
    if (action !== "none") this.#logger.info({ action }, "reconciled an interrupted package install");
    return action;
  }

  /** Starts reporting: persisted statuses go out again, with the collector's real version. */
  async report(): Promise<void> {
    const name = await this.#collectorName();
    const entry = this.#book.get(name);
    const has = await this.#agentHas(await this.#version());
    if (!entry) {
      await this.#book.set({
        name,
        ...has,
        serverOfferedVersion: "",
        serverOfferedHash: new Uint8Array(0),
        status: "INSTALLED",
        errorMessage: "",
      });
    } else if (
      entry.agentHasVersion !== has.agentHasVersion ||
      bytesToHex(entry.agentHasHash) !== bytesToHex(has.agentHasHash)
    ) {
      await this.#book.set({ ...entry, ...has });
    }
    if (this.#options.sink) this.#book.attach(this.#options.sink);
  }

  /**
   * Processes one PackagesAvailable. Runs inside the supervisor's operation queue. "retry":
   * a refused state-directory write stopped it; the same offer may be handled again later.
   */
  async handleOffer(offer: PackagesOffer, signal: AbortSignal = this.#options.signal): Promise<OfferResult> {
    const state = await this.#store.readState();
    const plan = planOffer(offer, state);
    if (plan.kind === "unchanged") {
      this.#logger.debug({ allPackagesHash: bytesToHex(offer.allPackagesHash) }, "package offer unchanged");
      return "settled";
    }
    const version = await this.#version();
    const has = await this.#agentHas(version);
    const packages: Record<string, StoredPackageStatus> = {};
    for (const { pkg, reason } of plan.refused) {
      packages[pkg.name] = statusOf(
        pkg,
        { agentHasVersion: "", agentHasHash: new Uint8Array(0) },
        "INSTALL_FAILED",
        reason,
      );
    }
    const collector = plan.collector;
    if (collector) packages[collector.pkg.name] = statusOf(collector.pkg, has, ...firstState(collector));
    else
      packages[await this.#collectorName()] = {
        name: await this.#collectorName(),
        ...has,
        serverOfferedVersion: "",
        serverOfferedHash: new Uint8Array(0),
        status: "INSTALLED",
        errorMessage: "",
      };
    await this.#book.replace({ serverProvidedAllPackagesHash: offer.allPackagesHash, errorMessage: "", packages });
    for (const { pkg, reason } of plan.refused) this.#logger.warn({ name: pkg.name, kind: pkg.kind }, reason);

    let retryLater = false;
    if (collector?.kind === "install") {
      const outcome = await installCollector(
        this.#installEnv(signal),
        collector.pkg,
        { version, agentHash: has.agentHasHash },
        offer.allPackagesHash,
      ).catch((err: unknown) => this.#storageFault(signal, collector.pkg, err));
      if (outcome.kind === "installed") {
        if (!outcome.swapped) {
          const file = collector.pkg.file;
          await finishInstalled({ store: this.#store, book: this.#book }, collector.pkg.name, {
            version: outcome.version,
            hash: collector.pkg.hash,
            contentHash: file?.contentHash ?? new Uint8Array(0),
          });
        }
        if (outcome.version !== version) this.#options.collector.versionChanged(outcome.version);
      } else {
        retryLater = !outcome.remember;
      }
    } else if (collector?.kind === "known-bad") {
      this.#logger.warn({ name: collector.pkg.name, hash: bytesToHex(collector.pkg.hash) }, NOT_RETRIED);
    }
    if (retryLater) return "retry";
    // Everything in this offer reached a final state: the same aggregate hash needs no work again.
    const latest = await this.#store.readState();
    await this.#store.writeState({ ...latest, allPackagesHash: offer.allPackagesHash });
    return "settled";
  }

  /**
   * A write the disk refused (full, read-only, failing) fails this install, not the
   * supervisor: INSTALL_FAILED with the reason, not remembered (the package is not at fault),
   * and the collector kept running. Any other error is rethrown.
   */
  async #storageFault(
    signal: AbortSignal,
    pkg: { name: string; hash: Uint8Array; version: string },
    err: unknown,
  ): Promise<InstallOutcome> {
    if (storageFaultCode(err) === undefined) throw err;
    const reason = `cannot write the state directory: ${describeWriteError(err)}; the collector keeps its binary; the install is tried again later`;
    this.#logger.error({ err, name: pkg.name }, "a state directory write failed while installing a package");
    await this.#book.update(pkg.name, "INSTALL_FAILED", { errorMessage: reason });
    await this.#options.audit.append({
      action: "package-failed",
      name: pkg.name,
      hash: bytesToHex(pkg.hash),
      version: pkg.version,
      reason,
      remembered: false,
      result: "failed",
    });
    await this.#options.collector.restartAndProve({ keepRunningOnFailure: true, signal });
    return { kind: "failed", reason, remember: false };
  }

  #installEnv(signal: AbortSignal): InstallEnv {
    const o = this.#options;
    return {
      settings: o.settings,
      executable: o.executable,
      args: o.args,
      env: o.env,
      store: this.#store,
      book: this.#book,
      audit: o.audit,
      logger: this.#logger,
      clock: o.clock,
      signal,
      policy: this.#policy,
      checkpoint: (step) => o.checkpoint(step),
      tlsFor: (url) => o.tlsFor(url),
      collector: o.collector,
      spawn: o.spawn,
      authFor: (url) => o.authFor?.(url) ?? Promise.resolve({}),
    };
  }

  /** The version running now; "unknown" when `--version` cannot be read. */
  async #version(): Promise<string> {
    return (await this.#options.collector.version().catch(() => undefined))?.version ?? "unknown";
  }

  async #collectorName(): Promise<string> {
    return (await this.#store.readState()).installed?.name ?? "";
  }

  /**
   * agent_has_*: the server's own package hash when the binary came from an offer, else the
   * SHA-256 of the binary on disk (cached while the file is unchanged).
   */
  async #agentHas(version: string): Promise<{ agentHasVersion: string; agentHasHash: Uint8Array }> {
    const installed = (await this.#store.readState()).installed;
    if (installed) return { agentHasVersion: version, agentHasHash: installed.hash };
    try {
      const s = await stat(this.#options.executable);
      const key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      if (this.#localHash?.key !== key) this.#localHash = { key, hash: await sha256File(this.#options.executable) };
      return { agentHasVersion: version, agentHasHash: this.#localHash.hash };
    } catch (err) {
      this.#logger.warn({ err }, "cannot hash the collector binary");
      return { agentHasVersion: version, agentHasHash: new Uint8Array(0) };
    }
  }
}

function firstState(plan: CollectorPlan): ["INSTALLED" | "INSTALL_FAILED" | "INSTALL_PENDING", string] {
  switch (plan.kind) {
    case "installed":
      return ["INSTALLED", ""];
    case "known-bad":
      return ["INSTALL_FAILED", NOT_RETRIED];
    case "install":
      return ["INSTALL_PENDING", ""];
  }
}

function statusOf(
  pkg: { name: string; version: string; hash: Uint8Array },
  has: { agentHasVersion: string; agentHasHash: Uint8Array },
  status: StoredPackageStatus["status"],
  errorMessage: string,
): StoredPackageStatus {
  return {
    name: pkg.name,
    ...has,
    serverOfferedVersion: pkg.version,
    serverOfferedHash: pkg.hash,
    status,
    errorMessage,
  };
}
