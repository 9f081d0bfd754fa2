/**
 * Wires the upgrade room into the supervisor: reconcile an interrupted upgrade before the
 * collector starts, turn PackagesAvailable into queued operations (one at a time; a newer
 * offer waiting behind a running upgrade replaces an older waiting one), report
 * PackageStatuses. The upgrade transaction reaches the collector through its controller.
 */
import type { ConnectionOptions } from "node:tls";
import type { CollectorControl } from "../collector/controller.js";
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import type { ConnectionTarget, OpampClient } from "../opamp/client.js";
import { PackageDownloadDetailsSchema, PackageStatusEnum, PackageStatusesSchema, create } from "../opamp/codec.js";
import type { PackageStatuses } from "../opamp/codec.js";
import { buildTlsOptions } from "../opamp/tls-options.js";
import type { TlsSettings } from "../opamp/tls-options.js";
import type { AuditLog, StateStore } from "../storage/index.js";
import { PackageManager, offerFromMessage } from "../upgrade/index.js";
import type { DownloadDetails, PackageStatusValue, StoredPackageStatuses } from "../upgrade/index.js";
import type { SupervisorHooks } from "./context.js";
import type { OperationQueue } from "./queue.js";

/** Opens the package state and settles an interrupted upgrade. Call before the collector's version is read. */
export async function preparePackages(input: {
  config: ResolvedConfig;
  deps: Deps;
  store: StateStore;
  audit: AuditLog;
  hooks: SupervisorHooks;
  collector: CollectorControl;
  client: OpampClient;
  signal: AbortSignal;
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
    sink: config.capabilities.reportsPackageStatuses ? (statuses, details) => client.setStatus("packageStatuses", toPackageStatuses(statuses, details)) : undefined,
    tlsFor: (url) => downloadTls(client.target, url),
  });
  await manager.reconcile();
  if (config.capabilities.acceptsPackages && config.agent.package.insecureAcceptUnsignedPackages) {
    deps.logger.warn({ component: "upgrade" }, "INSECURE: packages are accepted without signature checks (agent.package.verifier.insecure_accept_unsigned_packages)");
  }
  return manager;
}

/** Starts reporting package statuses and taking offers. */
export function listenForPackages(input: { config: ResolvedConfig; deps: Deps; client: OpampClient; queue: OperationQueue; packages: PackageManager }): void {
  const { config, client, queue, packages } = input;
  const { acceptsPackages, reportsPackageStatuses: reports } = config.capabilities;
  if (!acceptsPackages && !reports) return; // packages are off: nothing to report, no offers arrive
  void packages.report().catch((err: unknown) => input.deps.logger.error({ err }, "could not report package statuses"));
  client.on("packagesAvailable", (msg) => {
    const offer = offerFromMessage(msg);
    void queue.enqueueLatest("packages", (signal) => packages.handleOffer(offer, signal), packageDeadlineMs(input.config));
  });
}

/** Every download attempt may take its whole timeout; the swap and its proof get a margin on top. */
function packageDeadlineMs(config: ResolvedConfig): number {
  const { downloadTimeoutMs, downloadAttempts } = config.agent.package;
  return downloadTimeoutMs * Math.max(1, downloadAttempts) + 10 * 60_000;
}

/**
 * Downloads trust what the OpAMP connection trusts *now* — the settings in force, which may
 * be inline PEM, a certificate the server offered or a CSR renewed, not only supervisor.yaml's
 * files: its CA, minimum version and the operator's skip-verify. The client certificate (and
 * the server name override) go only to the host the OpAMP connection talks to.
 */
export async function downloadTls(target: ConnectionTarget, url: URL): Promise<ConnectionOptions> {
  const tls = target.tls ?? {};
  const settings: TlsSettings = { minVersion: tls.minVersion ?? "TLSv1.2" };
  if (tls.caPem !== undefined) settings.caPem = tls.caPem;
  else if (tls.caFile) settings.caFile = tls.caFile;
  if (tls.insecureSkipVerify) settings.insecureSkipVerify = true;
  let sameHost = false;
  try {
    sameHost = new URL(target.endpoint).hostname === url.hostname;
  } catch {
    sameHost = false;
  }
  if (sameHost) {
    if (tls.certPem !== undefined) settings.certPem = tls.certPem;
    else if (tls.certFile) settings.certFile = tls.certFile;
    if (tls.keyPem !== undefined) settings.keyPem = tls.keyPem;
    else if (tls.keyFile) settings.keyFile = tls.keyFile;
    if (tls.serverName) settings.serverName = tls.serverName;
  }
  return buildTlsOptions(settings);
}

const WIRE: Record<PackageStatusValue, PackageStatusEnum> = {
  INSTALLED: PackageStatusEnum.PackageStatusEnum_Installed,
  INSTALL_PENDING: PackageStatusEnum.PackageStatusEnum_InstallPending,
  INSTALLING: PackageStatusEnum.PackageStatusEnum_Installing,
  INSTALL_FAILED: PackageStatusEnum.PackageStatusEnum_InstallFailed,
  DOWNLOADING: PackageStatusEnum.PackageStatusEnum_Downloading,
};

export function toPackageStatuses(doc: StoredPackageStatuses, details: ReadonlyMap<string, DownloadDetails>): PackageStatuses {
  const packages: Record<string, ReturnType<typeof wireStatus>> = {};
  for (const status of Object.values(doc.packages)) packages[status.name] = wireStatus(status, details.get(status.name));
  return create(PackageStatusesSchema, {
    packages,
    serverProvidedAllPackagesHash: doc.serverProvidedAllPackagesHash,
    errorMessage: doc.errorMessage,
  });
}

function wireStatus(s: StoredPackageStatuses["packages"][string], details: DownloadDetails | undefined) {
  return {
    name: s.name,
    agentHasVersion: s.agentHasVersion,
    agentHasHash: s.agentHasHash,
    serverOfferedVersion: s.serverOfferedVersion,
    serverOfferedHash: s.serverOfferedHash,
    status: WIRE[s.status],
    errorMessage: s.status === "INSTALL_FAILED" ? s.errorMessage : "",
    ...(s.status === "DOWNLOADING" && details
      ? { downloadDetails: create(PackageDownloadDetailsSchema, { downloadPercent: details.percent, downloadBytesPerSecond: details.bytesPerSecond }) }
      : {}),
  };
}
