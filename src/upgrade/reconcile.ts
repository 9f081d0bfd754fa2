/**
 * At start, before the collector runs: finish or undo an upgrade a crash interrupted, so a
 * working binary is at the executable path and the statuses tell the truth about it.
 *
 * The journal names the inodes of the binary before (`previous`, also the backup's) and
 * after (`next`, the staged file's), so what happened is read off the filesystem, not
 * guessed from how far the journal got:
 *
 *   path is `next`,     phase proven        → keep it: INSTALLED (the health window passed)
 *   path is `next`,     otherwise           → rename the backup back: INSTALL_FAILED, interrupted
 *   path is `previous`, phase rolling-back  → INSTALL_FAILED with the recorded reason, remembered
 *   path is `previous`, otherwise           → never swapped: INSTALL_FAILED, interrupted
 *   path missing                            → put the backup (else the staged binary) there
 *   anything else                           → replaced by someone else: leave it, report it
 *
 * Without a journal, a status left in INSTALL_PENDING, DOWNLOADING or INSTALLING means the
 * supervisor died before touching the binary: INSTALL_FAILED, interrupted. Partial
 * downloads stay, so the next offer of the same file resumes them.
 */
import * as fsp from "node:fs/promises";
import type { Logger } from "../deps.js";
import type { AuditLog } from "../storage/index.js";
import { StateCorruptError, bytesToHex } from "../storage/index.js";
import { finishInstalled } from "./install.js";
import { PACKAGE_DOCUMENTS } from "./state.js";
import type { PackageStore, UpgradeJournal } from "./state.js";
import type { StatusBook } from "./statuses.js";
import { identityOf, removeSideFiles, renameInto, sameFile, sidePaths } from "./swap.js";

export interface ReconcileEnv {
  store: PackageStore;
  book: StatusBook;
  audit: AuditLog;
  logger: Logger;
}

export type ReconcileAction =
  | "none"
  | "kept-new"
  | "restored-previous"
  | "rollback-recorded"
  | "not-swapped"
  | "foreign-binary"
  | "settled-statuses";

const INTERRUPTED = "interrupted: the supervisor stopped while installing this package";

export async function reconcile(env: ReconcileEnv, executable: string): Promise<ReconcileAction> {
  let journal: UpgradeJournal | undefined;
  try {
    journal = await env.store.readJournal();
  } catch (err) {
    if (!(err instanceof StateCorruptError)) throw err;
    const aside = await env.store.quarantine(PACKAGE_DOCUMENTS.journal);
    env.logger.error(
      { err, movedTo: aside },
      "the upgrade journal is unreadable; moved it aside and checking the executable path",
    );
  }
  if (!journal) return settleWithoutJournal(env, executable);
  if (journal.executable !== executable) {
    env.logger.warn(
      { journal: journal.executable, executable },
      "the upgrade journal names another executable (agent.executable changed); reconciling that path",
    );
  }
  const action = await settleJournal(env, journal);
  await removeSideFiles(journal.executable);
  await env.store.removeJournal();
  return action;
}

async function settleJournal(env: ReconcileEnv, journal: UpgradeJournal): Promise<ReconcileAction> {
  const { executable, backup, staged } = journal;
  const [atPath, atBackup, atStaged] = await Promise.all([
    identityOf(executable),
    identityOf(backup),
    identityOf(staged),
  ]);
  const facts = {
    name: journal.name,
    phase: journal.phase,
    from: journal.previous.version,
    to: journal.next.version,
    hash: bytesToHex(journal.offer.hash),
  };

  if (sameFile(atPath, journal.next)) {
    if (journal.phase === "proven" || !sameFile(atBackup, journal.previous)) {
      if (journal.phase !== "proven")
        env.logger.error(facts, "the new binary is in place but its backup is gone; keeping the new binary");
      await finishInstalled(env, journal.name, {
        version: journal.next.version,
        hash: journal.offer.hash,
        contentHash: journal.offer.contentHash,
      });
      await env.audit.append({ action: "package-installed", ...facts, resumed: true, result: "installed" });
      return "kept-new";
    }
    await renameInto(backup, executable);
    return interrupted(
      env,
      journal,
      `${INTERRUPTED}, after the swap and before the new version was proven healthy; rolled back to version ${journal.previous.version}`,
      "restored-previous",
    );
  }
  if (sameFile(atPath, journal.previous)) {
    if (journal.phase === "rolling-back") return rolledBack(env, journal);
    return interrupted(
      env,
      journal,
      `${INTERRUPTED}, before the swap; version ${journal.previous.version} was never replaced`,
      "not-swapped",
    );
  }
  if (atPath === undefined) {
    const source = sameFile(atBackup, journal.previous)
      ? backup
      : sameFile(atStaged, journal.next)
        ? staged
        : undefined;
    if (source === undefined) {
      env.logger.error(
        facts,
        "the collector executable is missing and neither the backup nor the staged binary is there",
      );
      return interrupted(env, journal, `${INTERRUPTED}; the executable is missing and could not be restored`, "none");
    }
    await renameInto(source, executable);
    if (source === staged) {
      await finishInstalled(env, journal.name, {
        version: journal.next.version,
        hash: journal.offer.hash,
        contentHash: journal.offer.contentHash,
      });
      return "kept-new";
    }
    if (journal.phase === "rolling-back") return rolledBack(env, journal);
    return interrupted(
      env,
      journal,
      `${INTERRUPTED}; restored version ${journal.previous.version}`,
      "restored-previous",
    );
  }
  env.logger.warn(
    facts,
    "the collector executable was replaced by something other than this upgrade; leaving it as it is",
  );
  return interrupted(
    env,
    journal,
    `${INTERRUPTED}; the executable was since replaced by another binary`,
    "foreign-binary",
  );
}

async function rolledBack(env: ReconcileEnv, journal: UpgradeJournal): Promise<ReconcileAction> {
  if (journal.offer.hash.length > 0) await env.store.addFailed(journal.offer.hash);
  await markFailed(env, journal, `${journal.reason}; rolled back to version ${journal.previous.version}`);
  await env.audit.append({
    action: "package-failed",
    name: journal.name,
    hash: bytesToHex(journal.offer.hash),
    reason: journal.reason,
    remembered: true,
    resumed: true,
    result: "failed",
  });
  return "rollback-recorded";
}

async function interrupted(
  env: ReconcileEnv,
  journal: UpgradeJournal,
  reason: string,
  action: ReconcileAction,
): Promise<ReconcileAction> {
  await markFailed(env, journal, reason);
  await env.audit.append({
    action: "package-interrupted",
    name: journal.name,
    hash: bytesToHex(journal.offer.hash),
    reason,
    result: action,
  });
  env.logger.warn({ name: journal.name, action }, reason);
  return action;
}

async function markFailed(env: ReconcileEnv, journal: UpgradeJournal, reason: string): Promise<void> {
  const previous = env.book.get(journal.name);
  await env.book.set({
    name: journal.name,
    agentHasVersion: journal.previous.version,
    agentHasHash: previous?.agentHasHash ?? new Uint8Array(0),
    serverOfferedVersion: journal.offer.version,
    serverOfferedHash: journal.offer.hash,
    status: "INSTALL_FAILED",
    errorMessage: reason,
  });
}

async function settleWithoutJournal(env: ReconcileEnv, executable: string): Promise<ReconcileAction> {
  const paths = sidePaths(executable);
  // A staged binary or a backup without a journal: the supervisor died before or after the swap window.
  for (const path of [paths.staged, paths.backup]) {
    await fsp
      .rm(path, { force: true })
      .catch((err: unknown) => env.logger.warn({ err, path }, "cannot remove a leftover upgrade file"));
  }
  let settled = false;
  for (const status of Object.values(env.book.current.packages)) {
    if (status.status !== "INSTALL_PENDING" && status.status !== "DOWNLOADING" && status.status !== "INSTALLING")
      continue;
    await env.book.set({
      ...status,
      status: "INSTALL_FAILED",
      errorMessage: `${INTERRUPTED}, before the binary was touched`,
    });
    await env.audit.append({
      action: "package-interrupted",
      name: status.name,
      hash: bytesToHex(status.serverOfferedHash),
      result: "not-swapped",
    });
    settled = true;
  }
  return settled ? "settled-statuses" : "none";
}
