/**
 * Crash-safe file replacement: a reader (or the supervisor after a crash or power loss) sees
 * either the complete old content or the complete new content of a file, never a mix.
 *
 * Recipe (Linux, same filesystem): write a uniquely named temp file in the target's own
 * directory, fsync it, rename(2) it over the target (atomic for readers), then fsync the
 * directory so the rename itself survives a power loss. A temp file in another directory
 * could sit on another filesystem, where rename fails with EXDEV.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The few filesystem calls the writer makes; tests inject failures through this seam. */
export interface AtomicFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  rm: typeof fsp.rm;
}

const nodeFs: AtomicFs = { open: fsp.open, rename: fsp.rename, rm: fsp.rm };

export interface WriteFileAtomicOptions {
  /** Permission bits of the new file, applied with fchmod so the umask does not apply. Default 0o600. */
  mode?: number;
  /** Test seam; calls left out are node:fs/promises'. */
  fs?: Partial<AtomicFs>;
}

/** Prefix shared by every temp file, so leftovers of a crash are recognisable. */
export const TEMP_FILE_MARKER = ".tmp-";

/** Builds a temp name next to `path` that no concurrent writer can pick too. */
export function tempPathFor(path: string): string {
  const unique = `${process.pid}-${randomBytes(6).toString("hex")}`;
  return join(dirname(path), `.${basename(path)}${TEMP_FILE_MARKER}${unique}`);
}

/**
 * Replaces `path` with `data` atomically and durably. On failure the target keeps its old
 * content (or stays absent) and the temp file is removed; the original error is rethrown.
 * A symlink at `path` is replaced by a regular file, not followed. If only the final
 * directory fsync fails, the new content is already in place but may not survive a power
 * loss; the error is still thrown so the caller does not report durability it lacks.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const staged = await stageFile(path, data, options);
  await staged.commit(path);
  await fsyncDirectory(dirname(path), { ...nodeFs, ...options.fs });
}

/** Bytes written under a temp name next to their target, checked before they take effect. */
export interface StagedFile {
  /** Where the bytes are until `commit`, for a reader that checks them (e.g. `otelcol validate`). */
  readonly path: string;
  /** Waits until the bytes are on disk, then renames them over `target` (same directory). */
  commit(target: string): Promise<void>;
  /** Removes the staged bytes; never rejects. */
  discard(): Promise<void>;
}

/**
 * The first half of writeFileAtomic, on its own for a file that is checked before it replaces
 * another: the fsync starts at once and runs while the caller checks, and `commit` is one
 * rename. That spares a rename and a directory fsync against writing a checked copy first and
 * renaming it again. The caller fsyncs the directory after `commit` to make the rename
 * durable. `path` names the temp file (`.<name>.tmp-…` in the same directory).
 */
export async function stageFile(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<StagedFile> {
  const fs = { ...nodeFs, ...options.fs };
  const mode = options.mode ?? 0o600;
  const temp = tempPathFor(path);
  const remove = () =>
    fs.rm(temp, { force: true }).then(
      () => undefined,
      () => undefined,
    );
  // "wx": O_CREAT|O_EXCL, so we never write through someone else's file or symlink.
  const handle = await fs.open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await remove();
    throw err;
  }
  // Closed once flushed, before any rename: a binary still open for writing cannot be exec'd (ETXTBSY).
  const flushed = handle.sync().finally(() => handle.close());
  flushed.catch(() => undefined); // commit reports it; discard does not care
  return {
    path: temp,
    async commit(target: string) {
      try {
        await flushed;
        await fs.rename(temp, target);
      } catch (err) {
        await remove();
        throw err;
      }
    },
    async discard() {
      await flushed.catch(() => undefined);
      await remove();
    },
  };
}

/**
 * Removes the temp files named after `path` that an earlier process left behind (killed
 * between staging and commit). Only for a file one process owns, at its start: a concurrent
 * writer's temp file would go too. Returns how many were removed; never rejects.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}${TEMP_FILE_MARKER}`;
  const names = await fsp.readdir(dirname(path)).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith(prefix));
  await Promise.all(stale.map((name) => fsp.rm(join(dirname(path), name), { force: true }).catch(() => undefined)));
  return stale.length;
}

/** Makes renames and unlinks inside `dir` durable. */
export async function fsyncDirectory(dir: string, fs: Pick<AtomicFs, "open"> = nodeFs): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } catch (err) {
    // A few filesystems (some FUSE and network mounts) refuse fsync on directories; the
    // rename is still atomic there, only its durability is up to the filesystem.
    if (!isErrno(err, "EINVAL") && !isErrno(err, "ENOTSUP")) throw err;
  } finally {
    await handle.close();
  }
}

/** Reads a whole file, or returns undefined when it does not exist. Other errors propagate. */
export async function readFileIfExists(
  path: string,
  read: (path: string) => Promise<Buffer> = (p) => fsp.readFile(p),
): Promise<Buffer | undefined> {
  try {
    return await read(path);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

/** Narrows an unknown error to a Node system error with the given code. */
export function isErrno(err: unknown, code: string): err is NodeJS.ErrnoException {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
