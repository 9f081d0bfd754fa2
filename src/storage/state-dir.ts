/**
 * The supervisor's state directory: private (0700) because it holds the instance uid, remote
 * configs that may carry credentials, and the collector's logs.
 */
import * as fsp from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "../deps.js";
import { silentLogger } from "../deps.js";

export const STATE_DIR_MODE = 0o700;

/** Paths inside the state directory; names are checked so nothing escapes it. */
export interface StateDir {
  /** Absolute path of the directory. */
  readonly root: string;
  /** Absolute path of the plain file `name` inside the directory. */
  file(name: string): string;
  /** Creates (0700) and returns a subdirectory, e.g. for packages or staging. */
  subdir(name: string): Promise<string>;
}

/** Well-known files owned by the storage and process rooms. */
export const STATE_FILE_NAMES = {
  auditLog: "audit.log",
  pidFile: "collector.pid",
  collectorLog: "collector.log",
} as const;

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** True when `name` is a single path component that cannot climb out of a directory. */
export function isPlainFileName(name: string): boolean {
  return PLAIN_NAME.test(name) && name !== "." && name !== ".." && name.length <= 200;
}

function checkedName(name: string): string {
  if (!isPlainFileName(name)) {
    throw new TypeError(`state file name must be a plain file name, got ${JSON.stringify(name)}`);
  }
  return name;
}

export interface OpenStateDirOptions {
  logger?: Logger;
}

/**
 * Creates `dir` with mode 0700 (parents as needed) or tightens an existing one whose mode
 * grants group or other access. Throws when the path exists and is not a directory.
 */
export async function openStateDir(dir: string, options: OpenStateDirOptions = {}): Promise<StateDir> {
  const logger = (options.logger ?? silentLogger).child({ component: "storage" });
  const root = resolve(dir);
  await ensurePrivateDir(root, logger);
  return {
    root,
    file: (name) => join(root, checkedName(name)),
    async subdir(name) {
      const path = join(root, checkedName(name));
      await ensurePrivateDir(path, logger);
      return path;
    },
  };
}

async function ensurePrivateDir(path: string, logger: Logger): Promise<void> {
  // mkdir's mode is filtered by the umask; the chmod below makes it exact either way.
  await fsp.mkdir(path, { recursive: true, mode: STATE_DIR_MODE });
  const stat = await fsp.stat(path);
  if (!stat.isDirectory()) {
    throw new Error(`state directory ${path} exists and is not a directory`);
  }
  const mode = stat.mode & 0o777;
  if (mode !== STATE_DIR_MODE) {
    await fsp.chmod(path, STATE_DIR_MODE);
    // Only the path and the mode bits are logged; never the content.
    if ((mode & 0o077) !== 0) {
      logger.warn(
        { dir: path, previousMode: mode.toString(8), mode: STATE_DIR_MODE.toString(8) },
        "state directory was accessible to other users; tightened its mode",
      );
    }
  }
}
