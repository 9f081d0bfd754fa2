/**
 * Wires the upgrade room into the supervisor: reconcile an interrupted upgrade before the
 * collector starts, turn PackagesAvailable into queued operations (one at a time; a newer
 * offer waiting behind a running upgrade replaces an older waiting one), report
 * PackageStatuses. The upgrade transaction reaches the collector through its controller.
 */
import type { CollectorControl } from "../collector/controller.js";
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import { downloadAuth, downloadTls } from "../connection/index.js";
import type { ServerTarget } from "../connection/index.js";
import type { OpampClient } from "../opamp/client.js";
import type { PackagesOffer } from "../opamp/domain.js";
import type { AuditLog, StateStore } from "../storage/index.js";
import { PackageManager, toPackageStatuses } from "../upgrade/index.js";
import type { SupervisorHooks } from "./context.js";
import type { OperationQueue } from "./queue.js";
import { retriedOffers } from "./retried-offers.js";
import type { StatusSnapshot } from "./status-snapshot.js";

/** Opens the package state and settles an interrupted upgrade. Call before the collector's version is read. */
export async function preparePackages(input: {
  config: ResolvedConfig;
  deps: Deps;
  store: StateStore;
  audit: AuditLog;
  hooks: SupervisorHooks;
  collector: CollectorControl;
  client: OpampClient<ServerTarget>;
  signal: AbortSignal;
  /** Hides configured secrets in status texts (they may carry a collector log tail). */
  mask(text: string): string;
  snapshot?: Pick<StatusSnapshot, "packages">;
}): Promise<PackageManager> {
  const { config, deps, client } = input;
  const manager = await PackageManager.open({
    settings: config.agent.package,
    executable: config.agent.executable,
    args: config.agent.args,
    env: config.agent.env,
    store: input.store,
    audit: input.audit,
    logger: deps.logger,
    clock: deps.clock,
    spawn: deps.spawn,
    checkpoint: (step) => input.hooks.checkpoint(step),
    signal: input.signal,
    collector: input.collector,
    sink: (statuses, details) => {
      const report = toPackageStatuses(statuses, details, (text) => input.mask(text));
      input.snapshot?.packages(report);
      if (config.capabilities.reportsPackageStatuses) client.setStatus("packageStatuses", report);
    },
    tlsFor: (url) => downloadTls(client.target, url),
    authFor: (url) => downloadAuth(client.target, url),
  });
  await manager.reconcile();
  if (config.capabilities.acceptsPackages && config.agent.package.insecureAcceptUnsignedPackages) {
    deps.logger.warn(
      { component: "upgrade" },
      "INSECURE: packages are accepted without signature checks (agent.package.verifier.insecure_accept_unsigned_packages)",
    );
  }
  return manager;
}

/** Starts reporting package statuses and taking offers (retried after a refused write: retried-offers.ts). */
export function listenForPackages(input: {
  config: ResolvedConfig;
  deps: Deps;
  client: OpampClient<ServerTarget>;
  queue: OperationQueue;
  packages: PackageManager;
  signal: AbortSignal;
}): void {
  const { config, deps, client, queue, packages, signal } = input;
  const { acceptsPackages, reportsPackageStatuses: reports } = config.capabilities;
  if (!acceptsPackages && !reports) return; // packages are off: nothing to report, no offers arrive
  const logger = deps.logger.child({ component: "upgrade" });
  void packages.report().catch((err: unknown) => logger.error({ err }, "could not report package statuses"));
  const offer = retriedOffers<PackagesOffer>({
    kind: "packages",
    queue,
    clock: deps.clock,
    logger,
    signal,
    firstRetryMs: config.storage.retryIntervalMs,
    deadlineMs: packageDeadlineMs(config),
    handle: (o, opSignal) => packages.handleOffer(o, opSignal),
  });
  client.on("packagesAvailable", offer);
}

/** Every download attempt may take its whole timeout; the swap and its proof get a margin on top. */
function packageDeadlineMs(config: ResolvedConfig): number {
  const { downloadTimeoutMs, downloadAttempts } = config.agent.package;
  return downloadTimeoutMs * Math.max(1, downloadAttempts) + 10 * 60_000;
}
