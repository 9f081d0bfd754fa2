/**
 * The audit log: one JSON object per line in `audit.log`, one line per change the supervisor
 * made to the host (config applied or rolled back, package installed, uid changed, ...).
 *
 * Why append and not temp+rename: a log only ever grows, and its unit of change is one line.
 * A single write(2) on a file opened with O_APPEND puts the whole line at the current end of
 * file, and the lines already there are never rewritten, so a crash can at worst leave the
 * *last* line torn; readers skip it and the next append starts on a fresh line. Temp+rename
 * would have to copy the whole, ever-growing file for every entry and would silently lose
 * lines if two writers raced (the second rename discards the first writer's copy).
 *
 * A disk that refuses writes (full, read-only, failing) does not stop the transaction that
 * wanted to record something: the line is kept in memory (bounded), a warning is logged
 * once per episode, and the kept lines are written, in order, before the next line once
 * writing works again.
 *
 * Callers must not put secrets in fields; entries are written as given.
 */
import * as fsp from "node:fs/promises";
import type { Clock, Logger } from "../deps.js";
import { silentLogger } from "../deps.js";
import { dirname } from "node:path";
import { fsyncDirectory, readFileIfExists } from "./atomic.js";

export interface AuditEntry {
  /** ISO 8601; filled from the clock when omitted. */
  time?: string;
  /** What happened, e.g. "remote-config-applied", "rollback", "package-installed". */
  action: string;
  [field: string]: unknown;
}

export type WrittenAuditEntry = AuditEntry & { time: string };

export interface AuditLogOptions {
  /** Absolute path of the log file, normally `stateDir.file("audit.log")`. */
  path: string;
  clock: Clock;
  /** Size at which the log moves to `<path>.1` (replacing an older one). Default 16 MiB. */
  maxBytes?: number;
  /** Told once per episode when lines cannot be written. */
  logger?: Logger;
  /** Filesystem seam; defaults to node:fs/promises. */
  fs?: AuditFs;
  /** Told every entry as it is appended (the supervisor's own metrics and traces); must not throw. */
  observe?: (entry: WrittenAuditEntry) => void;
}

/** The calls the audit log makes; tests inject disk faults through this seam. */
export interface AuditFs {
  open: typeof fsp.open;
  stat: typeof fsp.stat;
  rename: typeof fsp.rename;
}

const nodeAuditFs: AuditFs = { open: fsp.open, stat: fsp.stat, rename: fsp.rename };

/** Lines kept in memory while the disk refuses writes; the oldest are dropped beyond this. */
export const MAX_PENDING_AUDIT_LINES = 1_000;

export const DEFAULT_AUDIT_MAX_BYTES = 16 * 1024 * 1024;

export class AuditLog {
  readonly path: string;
  readonly #clock: Clock;
  /** Appends run one at a time so lines keep the order in which `append` was called. */
  #queue: Promise<unknown> = Promise.resolve();
  #tailChecked = false;

  readonly #maxBytes: number;
  readonly #logger: Logger;
  readonly #fs: AuditFs;
  readonly #observe: ((entry: WrittenAuditEntry) => void) | undefined;
  /** Lines the disk refused, oldest first; written before the next line. */
  #pending: string[] = [];
  #dropped = 0;

  constructor(options: AuditLogOptions) {
    this.path = options.path;
    this.#clock = options.clock;
    this.#maxBytes = options.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
    this.#logger = (options.logger ?? silentLogger).child({ component: "audit" });
    this.#fs = options.fs ?? nodeAuditFs;
    this.#observe = options.observe;
  }

  /**
   * Appends one line and fsyncs it; resolves once it is durable, or once it is kept in memory
   * because the disk refuses writes (see the module comment). Never rejects for a disk fault.
   */
  append(entry: AuditEntry): Promise<WrittenAuditEntry> {
    const { time, action, ...fields } = entry;
    const written: WrittenAuditEntry = { time: time ?? new Date(this.#clock.now()).toISOString(), action, ...fields };
    const line = `${JSON.stringify(written)}\n`;
    this.#observe?.(written);
    const next = this.#queue.then(() => this.#writeOrKeep(line)).then(() => written);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Lines waiting for the disk to accept writes again. */
  get pendingLines(): number {
    return this.#pending.length;
  }

  async #writeOrKeep(line: string): Promise<void> {
    const lines = [...this.#pending, line];
    try {
      await this.#write(lines.join(""));
    } catch (err) {
      // A write cut short may have left a torn line: check the tail again next time.
      this.#tailChecked = false;
      if (this.#pending.length === 0) {
        this.#logger.warn(
          { err, file: this.path },
          "cannot write the audit log; keeping its lines in memory until writing works again",
        );
      }
      this.#pending = lines.slice(-MAX_PENDING_AUDIT_LINES);
      this.#dropped += lines.length - this.#pending.length;
      return;
    }
    if (this.#pending.length > 0) {
      this.#logger.info(
        { file: this.path, written: this.#pending.length, dropped: this.#dropped },
        "the audit log is writable again; kept lines written",
      );
    }
    this.#pending = [];
    this.#dropped = 0;
  }

  async #write(line: string): Promise<void> {
    await this.#rotateIfFull();
    // "a+" = O_RDWR|O_CREAT|O_APPEND (read access only for the torn-tail check below);
    // 0600 because entries may name hosts and endpoints.
    const handle = await this.#fs.open(this.path, "a+", 0o600);
    try {
      let prefix = "";
      if (!this.#tailChecked) {
        prefix = (await endsTorn(handle)) ? "\n" : "";
        this.#tailChecked = true;
      }
      // One write call per batch of whole lines: that is the atomic unit O_APPEND gives us.
      await handle.write(prefix + line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /**
   * A supervisor runs for years: keep the current log and one older generation. The rename
   * is atomic, so a reader sees either the full old file or the new one.
   */
  async #rotateIfFull(): Promise<void> {
    const size = (await this.#fs.stat(this.path).catch(() => undefined))?.size ?? 0;
    if (size < this.#maxBytes) return;
    await this.#fs.rename(this.path, `${this.path}.1`);
    await fsyncDirectory(dirname(this.path), this.#fs);
    this.#tailChecked = false;
  }

  /** Parses every complete line; a torn or garbled line is skipped, not fatal. */
  async read(): Promise<WrittenAuditEntry[]> {
    const raw = await readFileIfExists(this.path);
    if (raw === undefined) return [];
    const entries: WrittenAuditEntry[] = [];
    for (const line of raw.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isEntry(value)) entries.push(value);
      } catch {
        // A line torn by a crash mid-write; the lines around it are intact.
      }
    }
    return entries;
  }
}

/** True when the file is non-empty and its last byte is not a newline (a torn last line). */
async function endsTorn(handle: fsp.FileHandle): Promise<boolean> {
  const { size } = await handle.stat();
  if (size === 0) return false;
  const byte = Buffer.alloc(1);
  // Positioned reads are unaffected by O_APPEND (which only moves writes to the end).
  await handle.read(byte, 0, 1, size - 1);
  return byte[0] !== 0x0a;
}

function isEntry(value: unknown): value is WrittenAuditEntry {
  if (typeof value !== "object" || value === null) return false;
  const obj = value as Record<string, unknown>;
  return typeof obj["time"] === "string" && typeof obj["action"] === "string";
}
