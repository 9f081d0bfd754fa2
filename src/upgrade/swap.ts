/**
 * Replacing the collector binary so that its path always names a complete, runnable file.
 *
 *   current ──link──▶ backup            (same inode: no copy, no second of downtime)
 *   staged  ──rename──▶ current         (atomic: readers see the old file or the new one)
 *   backup  ──rename──▶ current         (the rollback, equally atomic)
 *
 * Writing over a running binary fails with ETXTBSY and a rename across filesystems with
 * EXDEV, so every side file lives in the executable's own directory. The running collector
 * keeps its (now unlinked) old inode until it is restarted.
 */
import * as fsp from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { fsyncDirectory, isErrno } from "../storage/index.js";

export interface SidePaths {
  /** The new binary, complete and checked, waiting to be renamed over the executable. */
  staged: string;
  /** A hard link to the binary that ran before the swap. */
  backup: string;
  /** The download of the package with this content hash (resumable across runs). */
  download(contentHashHex: string): string;
}

const MARK = ".opamp-";

/**
 * Hidden files next to the executable. The extension is kept at the end: a Node script
 * (the test stub is one) is only run as ESM when its name still ends in .mjs.
 */
export function sidePaths(executable: string): SidePaths {
  const dir = dirname(executable);
  const ext = extname(executable);
  const stem = basename(executable, ext);
  return {
    staged: join(dir, `.${stem}${MARK}staged${ext}`),
    backup: join(dir, `.${stem}${MARK}backup${ext}`),
    download: (hex) => join(dir, `.${stem}${MARK}download-${hex.slice(0, 16)}`),
  };
}

/** Removes every side file of `executable` except those in `keep`. */
export async function removeSideFiles(executable: string, keep: readonly string[] = []): Promise<string[]> {
  const dir = dirname(executable);
  const ext = extname(executable);
  const prefix = `.${basename(executable, ext)}${MARK}`;
  const removed: string[] = [];
  for (const name of await fsp.readdir(dir)) {
    const path = join(dir, name);
    if (!name.startsWith(prefix) || keep.includes(path)) continue;
    await fsp.rm(path, { force: true });
    removed.push(path);
  }
  if (removed.length > 0) await fsyncDirectory(dir);
  return removed;
}

/**
 * Which file a path names. Inode numbers are reused once a file is deleted, so size and
 * mtime (which link and rename leave alone) are compared too.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export async function identityOf(path: string): Promise<FileIdentity | undefined> {
  try {
    const stat = await fsp.stat(path);
    return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs
  );
}

/**
 * Gives the staged binary the executable's permission bits (setuid/setgid dropped, owner
 * read+execute ensured) and, when we may, its owner; then makes it durable.
 */
export async function prepareStaged(staged: string, executable: string): Promise<void> {
  const current = await fsp.stat(executable);
  const handle = await fsp.open(staged, "r+");
  try {
    await handle.chmod((current.mode & 0o777) | 0o500);
    await handle.chown(current.uid, current.gid).catch((err: unknown) => {
      if (!isErrno(err, "EPERM")) throw err; // not root: the file stays ours, which runs it just the same
    });
    await handle.sync();
  } finally {
    // Closed before anything runs it: exec of a file open for writing fails with ETXTBSY.
    await handle.close();
  }
}

/**
 * Makes `backup` name the current binary: a hard link (same inode), or on filesystems
 * without hard links a durable copy. A stale backup from an earlier run is replaced.
 */
export async function backUp(executable: string, backup: string): Promise<"link" | "copy"> {
  await fsp.rm(backup, { force: true });
  let how: "link" | "copy" = "link";
  try {
    await fsp.link(executable, backup);
  } catch (err) {
    if (
      !isErrno(err, "EPERM") &&
      !isErrno(err, "ENOTSUP") &&
      !isErrno(err, "EOPNOTSUPP") &&
      !isErrno(err, "EXDEV") &&
      !isErrno(err, "EMLINK")
    )
      throw err;
    how = "copy";
    await fsp.copyFile(executable, backup);
    const handle = await fsp.open(backup, "r+");
    try {
      await handle.chmod((await fsp.stat(executable)).mode & 0o7777);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await fsyncDirectory(dirname(executable));
  return how;
}

/** Atomically puts `from` at `to` (rename(2)) and makes it durable. */
export async function renameInto(from: string, to: string): Promise<void> {
  await fsp.rename(from, to);
  await fsyncDirectory(dirname(to));
}
