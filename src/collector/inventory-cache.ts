/**
 * The `components` output of the collector binary, kept in the state directory between
 * supervisor starts: the composition waits for the inventory (may healthcheckv2 be
 * injected?), so without it every start runs the binary once more before the collector can
 * start. An entry is good for one binary as it is on disk: device, inode, size, mtime and
 * ctime. A package swap or a reinstall renames or rewrites the file, and ctime cannot be
 * set back by anyone, so any change reads it again.
 *
 * A cache, not state: an entry that is missing, unreadable or for another binary is
 * ignored (the binary is read instead) and replaced.
 */
import type { FileSystem, Logger } from "../deps.js";
import { removeStaleTemps, writeFileAtomic } from "../storage/index.js";
import type { StateDir } from "../storage/index.js";

export const INVENTORY_CACHE_FILE = "components-inventory.json";
const FORMAT = 1;

export interface InventoryCache {
  /** The binary as it is now, and the output kept for it (undefined: none, or another binary's). */
  lookup(): Promise<{ binary: string | undefined; output: string | undefined }>;
  /** Keeps `output` as read from `binary` (from lookup, taken before the read). Never rejects. */
  store(binary: string, output: string): Promise<void>;
}

export interface InventoryCacheOptions {
  /** The collector executable; only a path (with a "/") is cached, not a name found through PATH. */
  executable: string;
  stateDir: StateDir;
  fs: Pick<FileSystem, "readFile" | "stat">;
  logger: Logger;
}

export function inventoryCache(o: InventoryCacheOptions): InventoryCache | undefined {
  if (!o.executable.includes("/")) return undefined;
  const path = o.stateDir.file(INVENTORY_CACHE_FILE);
  let first = true;
  return {
    async lookup() {
      // A write a kill interrupted at an earlier start; before this process writes its own.
      if (first) await removeStaleTemps(path);
      first = false;
      const binary = await identity(o);
      if (binary === undefined) return { binary, output: undefined };
      const kept = await o.fs.readFile(path, "utf8").then(parseEntry, () => undefined);
      return { binary, output: kept?.binary === binary ? kept.output : undefined };
    },
    async store(binary, output) {
      const entry = JSON.stringify({ format: FORMAT, binary, output });
      await writeFileAtomic(path, entry, { mode: 0o600 }).catch((err: unknown) =>
        o.logger.warn({ err }, "cannot keep the collector's components inventory; the next start reads it again"),
      );
    },
  };
}

/** What identifies the file's content without reading it; undefined when it cannot be stat'ed. */
async function identity(o: InventoryCacheOptions): Promise<string | undefined> {
  const s = await o.fs.stat(o.executable, { bigint: true }).catch(() => undefined);
  if (!s) return undefined;
  return [o.executable, s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(":");
}

function parseEntry(text: string): { binary: string; output: string } | undefined {
  try {
    const value = JSON.parse(text) as { format?: unknown; binary?: unknown; output?: unknown };
    if (value.format !== FORMAT || typeof value.binary !== "string" || typeof value.output !== "string")
      return undefined;
    return { binary: value.binary, output: value.output };
  } catch {
    return undefined;
  }
}
