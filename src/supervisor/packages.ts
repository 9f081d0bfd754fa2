/**
 * Wires the upgrade room into the supervisor: reconcile an interrupted upgrade before the
 * collector starts, turn PackagesAvailable into queued operations (one at a time; a newer
 * offer waiting behind a running upgrade replaces an older waiting one), report
 * PackageStatuses, and lend the upgrade transaction the collector restart and health window.
 */
import type { ConnectionOptions } from "node:tls";
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import type { ConnectionTarget, OpampClient } from "../opamp/client.js";
import { PackageDownloadDetailsSchema, PackageStatusEnum, PackageStatusesSchema, create } from "../opamp/codec.js";
import type { PackageStatuses } from "../opamp/codec.js";
import { buildTlsOptions } from "../opamp/tls-options.js";
import type { TlsSettings } from "../opamp/tls-options.js";
import type { AuditLog, StateStore } from "../storage/index.js";
import { PackageManager, offerFromMessage } from "../upgrade/index.js";
import type { DownloadDetails, PackageStatusValue, ProveResult, StoredPackageStatuses } from "../upgrade/index.js";
import type { SupervisorContext, SupervisorHooks } from "./context.js";
import { EFFECTIVE_CONFIG_FILE } from "./context.js";
import { compose, fallbackFiles, remoteFilesOf } from "./effective-config.js";
import type { OperationQueue } from "./queue.js";
import { restartCollector, rollout } from "./rollout.js";

/** Opens the package state and settles an interrupted upgrade. Call before the collector's version is read. */
export async function preparePackages(input: {
  config: ResolvedConfig;
  deps: Deps;
  store: StateStore;
  audit: AuditLog;
  hooks: SupervisorHooks;
}): Promise<PackageManager> {
  const { config, deps } = input;
  const manager = await PackageManager.open({
    settings: config.agent.package,
    executable: config.agent.executable,
    args: config.agent.args,
    env: config.agent.env,
    store: input.store,
    audit: input.audit,
    logger: deps.logger,
    clock: deps.clock,
    checkpoint: (step) => input.hooks.checkpoint(step),
  });
  await manager.reconcile();
  if (config.capabilities.acceptsPackages && config.agent.package.insecureAcceptUnsignedPackages) {
    deps.logger.warn({ component: "upgrade" }, "INSECURE: packages are accepted without signature checks (agent.package.verifier.insecure_accept_unsigned_packages)");
  }
  return manager;
}

export interface AttachInput {
  ctx: SupervisorContext;
  client: OpampClient;
  queue: OperationQueue;
  packages: PackageManager;
  version: string;
  onVersion(version: string): void;
}

/** Starts reporting package statuses and taking offers. */
export function attachPackages(input: AttachInput): void {
  const { ctx, client, queue, packages } = input;
  const { acceptsPackages, reportsPackageStatuses: reports } = ctx.config.capabilities;
  if (!acceptsPackages && !reports) return; // packages are off: nothing to report, no offers arrive
  void packages
    .attach({
      signal: ctx.signal,
      version: input.version,
      sink: reports ? (statuses, details) => client.setStatus("packageStatuses", toPackageStatuses(statuses, details, (text) => ctx.reporter.mask(text))) : undefined,
      tlsFor: (url) => downloadTls(client.target, url),
      effectiveConfig: async () => ((await currentComposition(ctx)).runnable ? ctx.stateDir.file(EFFECTIVE_CONFIG_FILE) : null),
      restartAndProve: () => restartAndProve(ctx),
      keepRunning: () => restartCollector(ctx).catch(() => undefined),
      onVersion: input.onVersion,
    })
    .catch((err: unknown) => ctx.logger.error({ err }, "could not report package statuses"));
  client.on("packagesAvailable", (msg) => {
    const offer = offerFromMessage(msg);
    void queue.enqueueLatest("packages", () => packages.handleOffer(offer));
  });
}

async function currentComposition(ctx: SupervisorContext): Promise<Awaited<ReturnType<typeof compose>>> {
  const working = await ctx.store.readLastWorkingRemoteConfig();
  return compose(ctx, working ? remoteFilesOf(working) : await fallbackFiles(ctx));
}

/** Restarts the collector from the executable path (whatever binary is there now) and proves it. */
async function restartAndProve(ctx: SupervisorContext): Promise<ProveResult> {
  const composition = await currentComposition(ctx);
  if (!composition.runnable) return { ok: true }; // nothing to run: --version was the whole proof
  const outcome = await rollout(ctx, composition.healthUrl, false);
  return outcome.ok ? { ok: true } : { ok: false, reason: outcome.reason, tail: outcome.tail };
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

/** `mask` hides configured secrets in the error texts (they may carry a collector log tail). */
export function toPackageStatuses(
  doc: StoredPackageStatuses,
  details: ReadonlyMap<string, DownloadDetails>,
  mask: (text: string) => string = (text) => text,
): PackageStatuses {
  const packages: Record<string, ReturnType<typeof wireStatus>> = {};
  for (const status of Object.values(doc.packages)) packages[status.name] = wireStatus({ ...status, errorMessage: mask(status.errorMessage) }, details.get(status.name));
  return create(PackageStatusesSchema, {
    packages,
    serverProvidedAllPackagesHash: doc.serverProvidedAllPackagesHash,
    errorMessage: mask(doc.errorMessage),
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
