/**
 * Wires the upgrade room into the supervisor: reconcile an interrupted upgrade before the
 * collector starts, turn PackagesAvailable into queued operations (one at a time; a newer
 * offer waiting behind a running upgrade replaces an older waiting one), report
 * PackageStatuses, and lend the upgrade transaction the collector restart and health window.
 */
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import { downloadAuth, downloadTls } from "../connection/index.js";
import type { ServerTarget } from "../connection/index.js";
import type { OpampClient } from "../opamp/client.js";
import type { AuditLog, StateStore } from "../storage/index.js";
import { PackageManager, toPackageStatuses } from "../upgrade/index.js";
import type { ProveResult } from "../upgrade/index.js";
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
  client: OpampClient<ServerTarget>;
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
      authFor: (url) => downloadAuth(client.target, url),
      effectiveConfig: async () => ((await currentComposition(ctx)).runnable ? ctx.stateDir.file(EFFECTIVE_CONFIG_FILE) : null),
      restartAndProve: () => restartAndProve(ctx),
      keepRunning: () => restartCollector(ctx).catch(() => undefined),
      onVersion: input.onVersion,
    })
    .catch((err: unknown) => ctx.logger.error({ err }, "could not report package statuses"));
  client.on("packagesAvailable", (offer) => {
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
