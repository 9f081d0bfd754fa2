/**
 * The filesystem calls the state store makes, as one narrow seam: tests inject ENOSPC, EROFS,
 * EIO or EACCES at any of them. Production passes nothing and gets node:fs/promises. (A
 * project-wide `deps.fs` can satisfy this interface; the store only needs these few calls.)
 */
import * as fsp from "node:fs/promises";

export interface StateFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  rm: typeof fsp.rm;
  readFile: (path: string) => Promise<Buffer>;
  lstat: typeof fsp.lstat;
}

export const nodeStateFs: StateFs = {
  open: fsp.open,
  rename: fsp.rename,
  rm: fsp.rm,
  readFile: (path) => fsp.readFile(path),
  lstat: fsp.lstat,
};

/** Errno codes that mean "the disk refuses writes now" rather than "the data is bad". */
const STORAGE_FAULTS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "the file system is read-only",
  EIO: "input/output error",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
};

/** The errno code of a storage fault, or undefined for any other error. */
export function storageFaultCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && code in STORAGE_FAULTS ? code : undefined;
}

/** Words for a write error, fit for a status message: "no space left on the device (ENOSPC)". */
export function describeWriteError(err: unknown): string {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  if (code !== undefined && code in STORAGE_FAULTS) return `${STORAGE_FAULTS[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}
