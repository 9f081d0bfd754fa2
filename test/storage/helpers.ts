/** Test aids for the storage room: a recording logger and a filesystem that fails on demand. */
import * as fsp from "node:fs/promises";
import type { Logger } from "../../src/deps.js";
import type { StateFs } from "../../src/storage/fs.js";
import { nodeStateFs } from "../../src/storage/fs.js";

export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(
  lines: LoggedLine[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { lines: LoggedLine[] } {
  const log =
    (level: LoggedLine["level"]) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === "string") lines.push({ level, msg: obj, fields: { ...bindings } });
      else lines.push({ level, msg: msg ?? "", fields: { ...bindings, ...(obj as Record<string, unknown>) } });
    };
  return {
    lines,
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

export type FaultCode = "ENOSPC" | "EROFS" | "EIO" | "EACCES";

/** An errno error as Node raises it. */
export function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: simulated, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/**
 * node:fs/promises with a switch: while `fault` is set, every call that would change the disk
 * (opening for writing, writing, renaming, removing) fails with that code, the way a full,
 * read-only or failing disk does. Reads keep working.
 */
export class FaultyFs implements StateFs {
  fault: FaultCode | undefined;
  /** How many writes were refused. */
  refused = 0;

  #check(syscall: string, path: string): void {
    if (this.fault === undefined) return;
    this.refused++;
    throw errnoError(this.fault, syscall, path);
  }

  open: StateFs["open"] = async (path, flags, mode) => {
    const writing = typeof flags === "string" && /[wa+]/.test(flags);
    if (writing) this.#check("open", String(path));
    const handle = await fsp.open(path, flags, mode);
    if (!writing) return handle;
    // ENOSPC typically arrives at write(2), after the open succeeded: let it happen there too.
    const write = handle.writeFile.bind(handle);
    handle.writeFile = async (...args: Parameters<typeof handle.writeFile>) => {
      this.#check("write", String(path));
      return write(...args);
    };
    return handle;
  };

  rename: StateFs["rename"] = async (from, to) => {
    this.#check("rename", String(to));
    return nodeStateFs.rename(from, to);
  };

  rm: StateFs["rm"] = async (path, options) => {
    this.#check("rm", String(path));
    return nodeStateFs.rm(path, options);
  };

  readFile: StateFs["readFile"] = (path) => nodeStateFs.readFile(path);
  lstat: StateFs["lstat"] = (path, options) => nodeStateFs.lstat(path, options as never) as never;
  stat: typeof fsp.stat = (path, options) => fsp.stat(path, options as never) as never;
}
