/**
 * The upgrade transaction for the collector package, the same shape as a remote config:
 *
 *   download (streamed through SHA-256, capped, resumable)  → DOWNLOADING
 *   verify content_hash, then the Ed25519 signature           → nothing changed on failure
 *   extract (tar.gz) into the staged file next to the binary  → INSTALLING
 *   pre-flight: <staged> --version, <staged> validate         → nothing changed on failure
 *   journal → hard-link backup → rename staged over the path  → the path never disappears
 *   restart + health window                                    → INSTALLED
 *   or: rename the backup back, restart, confirm              → INSTALL_FAILED, hash remembered
 *
 * Each step is a named checkpoint; reconcile.ts finishes or undoes a transaction a crash
 * interrupted, using the journal written before the first change.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fsp from "node:fs/promises";
import type { ConnectionOptions } from "node:tls";
import type { ResolvedPackage } from "../config/schema.js";
import type { CollectorControl } from "../collector/controller.js";
import { boundTail } from "../collector/tail.js";
import type { Clock, Logger, Spawner } from "../deps.js";
import { abortError } from "../errors.js";
import type { AuditLog } from "../storage/index.js";
import { bytesToHex } from "../storage/index.js";
import { extractBinary } from "./archive.js";
import { download } from "./download.js";
import type { OfferedPackage } from "./offer.js";
import { preflight } from "./preflight.js";
import type { PackageStore } from "./state.js";
import type { StatusBook } from "./statuses.js";
import { ProgressMeter } from "./statuses.js";
import { backUp, identityOf, prepareStaged, removeSideFiles, renameInto, sidePaths } from "./swap.js";
import { checkContentHashField, verifyPackage } from "./verify.js";
import { ProgressLog } from "./progress-log.js";
import type { TrustPolicy } from "./verify.js";

/** Named points of the upgrade transaction (see SupervisorHooks.checkpoint). */
export type UpgradeCheckpoint =
  | "package-received"
  | "package-downloaded"
  | "package-preflighted"
  | "package-journaled"
  | "package-backed-up"
  | "package-swapped"
  | "package-restarted"
  | "package-proven"
  | "package-installed"
  | "package-rolled-back";

export interface InstallEnv {
  settings: ResolvedPackage;
  executable: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  store: PackageStore;
  book: StatusBook;
  audit: AuditLog;
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  policy: TrustPolicy;
  checkpoint(step: UpgradeCheckpoint): void;
  tlsFor(url: URL): Promise<ConnectionOptions>;
  authFor?: (url: URL) => Promise<Record<string, string>>;
  /** The collector, through its controller: the config it runs, restart and proof. */
  collector: CollectorControl;
  /** Runs the staged binary's --version and validate. */
  spawn: Spawner;
}

/** What is installed when the transaction starts. */
export interface CurrentCollector {
  version: string;
  agentHash: Uint8Array;
}

export type InstallOutcome =
  | { kind: "installed"; version: string; swapped: boolean }
  /** `remember`: the package itself was shown bad; it is not tried again under this hash. */
  | { kind: "failed"; reason: string; remember: boolean };

export async function installCollector(
  env: InstallEnv,
  pkg: OfferedPackage,
  current: CurrentCollector,
  allPackagesHash: Uint8Array,
): Promise<InstallOutcome> {
  const started = env.clock.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number): number => {
    const at = env.clock.now();
    timings[name] = at - since;
    return at;
  };
  const paths = sidePaths(env.executable);
  const file = pkg.file;
  if (!file || file.url === "") return fail(env, pkg, "the offer has no file to download", true);
  const hashProblem = checkContentHashField(file.contentHash);
  if (hashProblem) return fail(env, pkg, hashProblem, true);
  const contentHex = bytesToHex(file.contentHash);
  env.checkpoint("package-received");

  // Step 3 of the spec's procedure: a raw package whose bytes are already at the path is installed.
  if (
    env.settings.archive === "raw" &&
    Buffer.from(await sha256File(env.executable)).equals(Buffer.from(file.contentHash))
  ) {
    await env.audit.append({
      action: "package-already-installed",
      name: pkg.name,
      hash: bytesToHex(pkg.hash),
      version: current.version,
    });
    return { kind: "installed", version: current.version, swapped: false };
  }

  // --- download and verify -------------------------------------------------------------
  let at = env.clock.now();
  const downloadPath = paths.download(contentHex);
  const meter = new ProgressMeter(env.settings.progressIntervalMs, () => env.clock.now());
  const progressLog = new ProgressLog();
  let downloading = false;
  let reported: Promise<void> = Promise.resolve();
  const result = await download({
    url: file.url,
    headers: file.headers,
    dest: downloadPath,
    maxBytes: env.settings.maxSizeBytes,
    timeoutMs: env.settings.downloadTimeoutMs,
    idleTimeoutMs: env.settings.downloadIdleTimeoutMs,
    attempts: env.settings.downloadAttempts,
    maxRedirects: env.settings.maxRedirects,
    tlsFor: (url) => env.tlsFor(url),
    authFor: env.authFor,
    clock: env.clock,
    signal: env.signal,
    onAttempt: ({ attempt, offset, total, status }) => {
      meter.reset(offset);
      progressLog.reset(offset);
      env.logger.info(
        { name: pkg.name, attempt, offset, total, status },
        offset > 0 ? "resuming the package download" : "downloading the package",
      );
      if (!downloading) {
        downloading = true;
        reported = env.book
          .update(pkg.name, "DOWNLOADING")
          .then(() => env.book.progress(pkg.name, { percent: total ? (offset / total) * 100 : 0, bytesPerSecond: 0 }));
      }
    },
    onProgress: (received, total) => {
      const step = progressLog.step(received, total);
      if (step)
        env.logger.info(
          { name: pkg.name, ...step, total, durationMs: env.clock.now() - at },
          "package download progress",
        );
      const details = meter.sample(received, total);
      if (details && downloading) env.book.progress(pkg.name, details);
    },
  });
  const downloadStarted = at;
  at = lap("downloadMs", at);
  if (result.ok) timings["downloadBytes"] = result.size; // in the audit line: the supervisor telemetry's download counter reads it
  if (result.ok)
    env.logger.info({ name: pkg.name, phase: "download", durationMs: at - downloadStarted }, "package downloaded");
  await reported;
  if (!result.ok) {
    // A download failure says nothing about the package itself (the URL, the network, the
    // trust or the cap may be fixed), so the hash is not remembered: offering it again retries.
    if (!result.transient) await fsp.rm(downloadPath, { force: true });
    return fail(env, pkg, `download failed: ${result.reason}`, false, { attempts: result.attempts });
  }
  const verdict = verifyPackage({
    digest: result.digest,
    contentHash: file.contentHash,
    signature: file.signature,
    policy: env.policy,
  });
  if (!verdict.ok) {
    await fsp.rm(downloadPath, { force: true });
    return fail(env, pkg, `verification failed: ${verdict.reason}`, true, timings);
  }
  if (verdict.keyId === null)
    env.logger.warn(
      { name: pkg.name },
      "INSECURE: installing a package without checking its signature (agent.package.verifier.insecure_accept_unsigned_packages)",
    );
  env.checkpoint("package-downloaded");

  // --- stage and pre-flight ------------------------------------------------------------
  await env.book.update(pkg.name, "INSTALLING");
  await fsp.rm(paths.staged, { force: true });
  if (env.settings.archive === "tar.gz") {
    const extracted = await extractBinary({
      archive: downloadPath,
      binary: env.settings.agentBinary ?? "",
      dest: paths.staged,
      maxBytes: env.settings.maxSizeBytes,
      signal: env.signal,
    });
    await fsp.rm(downloadPath, { force: true });
    if (!extracted.ok) {
      await fsp.rm(paths.staged, { force: true });
      return fail(env, pkg, `the package archive was refused: ${extracted.reason}`, true);
    }
  } else {
    await fsp.rename(downloadPath, paths.staged);
  }
  await prepareStaged(paths.staged, env.executable);
  const verifyStarted = at;
  at = lap("verifyMs", at);
  env.logger.info({ name: pkg.name, phase: "verify", durationMs: at - verifyStarted }, "package verified and staged");
  const checked = await preflight(paths.staged, {
    args: env.args,
    env: env.env,
    effectiveConfig: env.collector.effectiveConfigPath(),
    signal: env.signal,
    spawn: env.spawn,
  });
  env.logger.info(
    { name: pkg.name, phase: "preflight", durationMs: env.clock.now() - at, ok: checked.ok },
    "package preflight (the new binary's --version and validate) done",
  );
  at = lap("preflightMs", at);
  if (!checked.ok) {
    await fsp.rm(paths.staged, { force: true });
    return fail(env, pkg, checked.reason, true);
  }
  env.checkpoint("package-preflighted");

  // --- swap ----------------------------------------------------------------------------
  const previous = await identityOf(env.executable);
  const next = await identityOf(paths.staged);
  if (!previous || !next) return fail(env, pkg, "the executable or the staged binary vanished before the swap", false);
  const journal = {
    phase: "swapping" as const,
    name: pkg.name,
    executable: env.executable,
    backup: paths.backup,
    staged: paths.staged,
    previous: { ...previous, version: current.version },
    next: { ...next, version: checked.version },
    offer: { version: pkg.version, hash: pkg.hash, contentHash: file.contentHash },
    allPackagesHash,
    reason: "",
    startedAt: new Date(started).toISOString(),
  };
  await env.store.writeJournal(journal);
  env.checkpoint("package-journaled");
  const backupKind = await backUp(env.executable, paths.backup);
  env.checkpoint("package-backed-up");
  await renameInto(paths.staged, env.executable);
  env.logger.info(
    { name: pkg.name, from: current.version, to: checked.version, backup: backupKind },
    "new collector binary in place; restarting",
  );
  env.checkpoint("package-swapped");
  const proof = await env.collector.restartAndProve({ keepRunningOnFailure: false, signal: env.signal });
  // Shutting down is not a verdict on the package: leave the journal, and the next start
  // puts the previous binary back (not proven) and reports the install as interrupted.
  if (env.signal.aborted) throw abortError(env.signal);
  at = lap("healthMs", at);
  env.checkpoint("package-restarted");

  if (proof.ok) {
    await env.store.writeJournal({ ...journal, phase: "proven" });
    env.checkpoint("package-proven");
    // The audit line is on disk before the server hears INSTALLED.
    await env.audit.append({
      action: "package-installed",
      name: pkg.name,
      hash: bytesToHex(pkg.hash),
      from: current.version,
      to: checked.version,
      keyId: verdict.keyId,
      signature: verdict.keyId === null ? "not checked (insecure_accept_unsigned_packages)" : "verified",
      ...timings,
      totalMs: env.clock.now() - started,
      result: "installed",
    });
    await finishInstalled(env, journal.name, {
      version: checked.version,
      hash: pkg.hash,
      contentHash: file.contentHash,
    });
    env.checkpoint("package-installed");
    await removeSideFiles(env.executable);
    await env.store.removeJournal();
    env.logger.info(
      { name: pkg.name, from: current.version, to: checked.version, keyId: verdict.keyId },
      "collector package installed",
    );
    return { kind: "installed", version: checked.version, swapped: true };
  }

  // --- roll back -----------------------------------------------------------------------
  const tail = boundTail(proof.tail);
  const why = `the new binary (version ${checked.version}) did not prove healthy: ${proof.message}`;
  await env.store.writeJournal({ ...journal, phase: "rolling-back", reason: why });
  await renameInto(paths.backup, env.executable);
  env.checkpoint("package-rolled-back");
  // Kept running with the restart backoff when the previous binary does not prove healthy either.
  const again = await env.collector.restartAndProve({ keepRunningOnFailure: true, signal: env.signal });
  let restored = `rolled back to version ${current.version}, healthy again`;
  if (!again.ok) {
    env.logger.error({ reason: again.message }, "the previous collector binary did not prove healthy either");
    restored = `rolled back to version ${current.version}, which did not become healthy either (${again.message}); retrying it with backoff`;
  }
  await removeSideFiles(env.executable);
  const reason = `${why}; ${restored}${tail ? `\ncollector log tail:\n${tail}` : ""}`;
  const outcome = await fail(env, pkg, reason, true, { ...timings, rolledBack: true });
  await env.store.removeJournal();
  return outcome;
}

/** Records the new binary as installed and reports INSTALLED (also used by reconcile). */
export async function finishInstalled(
  env: Pick<InstallEnv, "store" | "book">,
  name: string,
  installed: { version: string; hash: Uint8Array; contentHash: Uint8Array },
): Promise<void> {
  const state = await env.store.readState();
  const hex = bytesToHex(installed.hash);
  await env.store.writeState({
    ...state,
    installed: { name, ...installed },
    failed: state.failed.filter((h) => h !== hex),
  });
  const previous = env.book.get(name);
  await env.book.set({
    name,
    agentHasVersion: installed.version,
    agentHasHash: installed.hash,
    serverOfferedVersion: previous?.serverOfferedVersion ?? "",
    serverOfferedHash: installed.hash,
    status: "INSTALLED",
    errorMessage: "",
  });
}

async function fail(
  env: InstallEnv,
  pkg: OfferedPackage,
  reason: string,
  remember: boolean,
  extra: Record<string, unknown> = {},
): Promise<InstallOutcome> {
  if (remember && pkg.hash.length > 0) await env.store.addFailed(pkg.hash);
  await env.audit.append({
    action: "package-failed",
    name: pkg.name,
    hash: bytesToHex(pkg.hash),
    version: pkg.version,
    reason,
    remembered: remember,
    result: "failed",
    ...extra,
  });
  await env.book.update(pkg.name, "INSTALL_FAILED", { errorMessage: reason });
  env.logger.warn(
    { name: pkg.name, hash: bytesToHex(pkg.hash), reason, remembered: remember },
    "collector package not installed",
  );
  return { kind: "failed", reason, remember };
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<Uint8Array> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return new Uint8Array(hash.digest());
}
