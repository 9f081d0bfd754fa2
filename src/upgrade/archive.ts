/**
 * Takes the collector binary out of a tar.gz package, and nothing else. The archive is read
 * with node-tar's parser (headers only; no tar code writes to disk): every entry is
 * inspected and the whole archive is refused if any entry is a link, a device, has an
 * absolute or `..` path, or if the entries add up to more than the cap (a decompression
 * bomb). Exactly one regular file must sit at the configured path; it is streamed to `dest`.
 */
import { createReadStream, createWriteStream } from "node:fs";
import type { Stats } from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { ReadEntry } from "tar";

export interface ExtractOptions {
  /** The downloaded .tar.gz. */
  archive: string;
  /** Relative path of the binary inside the archive (a leading "./" is ignored). */
  binary: string;
  /** Where the binary goes (created 0600; the caller sets the final mode). */
  dest: string;
  /** Cap on the binary and on the sum of all entry sizes. */
  maxBytes: number;
  signal?: AbortSignal;
}

export type ExtractResult = { ok: true; size: number } | { ok: false; reason: string };

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
/** Metadata entries node-tar folds into the following header. */
const META_TYPES = new Set([
  "ExtendedHeader",
  "GlobalExtendedHeader",
  "NextFileHasLongPath",
  "OldGnuLongPath",
  "NextFileHasLongLinkpath",
  "OldExtendedHeader",
]);

/** Why `entry` makes the archive unacceptable, or null. */
export function entryProblem(entryPath: string, type: string): string | null {
  if (type === "Link" || type === "SymbolicLink")
    return `the archive contains a link (${JSON.stringify(entryPath)}); links are refused`;
  if (!FILE_TYPES.has(type) && type !== "Directory" && !META_TYPES.has(type)) {
    return `the archive contains an entry of type ${type} (${JSON.stringify(entryPath)}); only files and directories are accepted`;
  }
  if (entryPath.startsWith("/") || /^[A-Za-z]:/.test(entryPath) || entryPath.includes("\\")) {
    return `the archive contains an absolute or non-POSIX path (${JSON.stringify(entryPath)})`;
  }
  if (entryPath.split("/").includes(".."))
    return `the archive contains a path that climbs out with ".." (${JSON.stringify(entryPath)})`;
  if (entryPath.includes("\0")) return "the archive contains a path with a NUL byte";
  return null;
}

function normalize(entryPath: string): string {
  return path.posix.normalize(entryPath.replace(/^(\.\/)+/, "")).replace(/\/$/, "");
}

export async function extractBinary(options: ExtractOptions): Promise<ExtractResult> {
  const wanted = normalize(options.binary);
  let problem: string | null = null;
  let total = 0;
  let found = 0;
  let written: Promise<void> | undefined;
  let size = 0;
  // Loaded on first use: only tar.gz packages need it.
  const { Parser } = await import("tar");
  const parser = new Parser({
    strict: true,
    // The binary is large and compresses well, but 1000:1 is a bomb, not a collector.
    maxDecompressionRatio: 1000,
    filter: (_p: string, entry: ReadEntry | Stats) => {
      const e = entry as ReadEntry;
      if (problem) return false;
      problem = entryProblem(e.path, e.type);
      total += e.size ?? 0;
      if (!problem && total > options.maxBytes) {
        problem = `the archive's entries add up to more than the ${options.maxBytes}-byte cap (agent.package.max_size)`;
      }
      if (problem) {
        parser.abort(new Error(problem));
        return false;
      }
      return FILE_TYPES.has(e.type) && normalize(e.path) === wanted;
    },
    onReadEntry: (entry: ReadEntry) => {
      found++;
      if (found > 1) {
        problem ??= `the archive holds ${JSON.stringify(options.binary)} more than once`;
        entry.resume();
        return;
      }
      size = entry.size;
      written = pipeline(
        entry,
        createWriteStream(options.dest, { mode: 0o600 }),
        options.signal ? { signal: options.signal } : {},
      );
    },
  });
  try {
    await pipeline(
      createReadStream(options.archive),
      parser as unknown as NodeJS.WritableStream,
      options.signal ? { signal: options.signal } : {},
    );
    await written;
  } catch (err) {
    if (options.signal?.aborted) throw err;
    await written?.catch(() => undefined);
    return {
      ok: false,
      reason: problem ?? `the archive cannot be read as tar.gz: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (problem) return { ok: false, reason: problem };
  if (found === 0)
    return {
      ok: false,
      reason: `the archive has no regular file at ${JSON.stringify(options.binary)} (agent.package.agent_binary)`,
    };
  return { ok: true, size };
}
