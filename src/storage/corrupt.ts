/**
 * The one policy for a state document that cannot be used (unreadable, truncated, empty,
 * garbage, the wrong shape, or a directory in its place): move it aside as
 * `<name>.corrupt-<UTC time>`, warn once naming the file and what was lost, write one audit
 * line, and carry on as if the document were absent. A state file never stops the supervisor:
 * the evidence stays on disk for a human, the host keeps its collector.
 */
import { basename, dirname } from "node:path";
import type { Clock, Logger } from "../deps.js";
import { fsyncDirectory, isErrno } from "./atomic.js";
import type { AuditLog } from "./audit.js";
import type { StateFs } from "./fs.js";

export interface CorruptionNotice {
  /** Absolute path the document had. */
  file: string;
  /** Where it went, or undefined when it could not be moved (a read-only disk). */
  movedTo: string | undefined;
  /** Why it was unusable. */
  reason: string;
  /** What the supervisor does without it, for the operator. */
  lost: string;
}

export interface CorruptionPolicyOptions {
  fs: StateFs;
  clock: Clock;
  logger: Logger;
  audit: AuditLog | undefined;
}

/**
 * Renames `file` aside to `<file>.corrupt-<time>` (a `-N` suffix when that name is taken).
 * Works for a directory in the file's place too. Returns the new path, or undefined when
 * there was nothing to move.
 */
export async function quarantineFile(fs: StateFs, clock: Clock, file: string): Promise<string | undefined> {
  const stamp = new Date(clock.now()).toISOString().replaceAll(":", "-");
  for (let n = 0; n < 1000; n++) {
    const target = `${file}.corrupt-${stamp}${n === 0 ? "" : `-${n}`}`;
    if (await exists(fs, target)) continue;
    try {
      await fs.rename(file, target);
    } catch (err) {
      if (isErrno(err, "ENOENT")) return undefined;
      throw err;
    }
    await fsyncDirectory(dirname(file), fs);
    return target;
  }
  throw new Error(`could not find a free quarantine name for ${file}`);
}

async function exists(fs: StateFs, path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}

/** Applies the policy to one unusable document; never throws. */
export async function setAside(
  options: CorruptionPolicyOptions,
  file: string,
  reason: string,
  lost: string,
): Promise<CorruptionNotice> {
  let movedTo: string | undefined;
  let moveError: string | undefined;
  try {
    movedTo = await quarantineFile(options.fs, options.clock, file);
  } catch (err) {
    moveError = err instanceof Error ? err.message : String(err);
  }
  const notice: CorruptionNotice = { file, movedTo, reason, lost };
  options.logger.warn(
    { file, movedTo, reason, lost, ...(moveError ? { moveError } : {}) },
    `state file ${basename(file)} was unusable; ${movedTo ? "moved it aside" : "could not move it aside"} and carrying on without it`,
  );
  try {
    await options.audit?.append({
      action: "state-file-corrupt",
      file,
      movedTo: movedTo ?? null,
      reason,
      lost,
      result: "set-aside",
    });
  } catch {
    // The audit log is on the same disk; its own warning says why it could not be written.
  }
  return notice;
}
