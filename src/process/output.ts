/**
 * The collector's stdout/stderr: split into lines, each either logged through the supervisor
 * logger (passthrough) or appended to a log file, and in both cases remembered in a bounded
 * tail for error reports.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";
import type { Readable } from "node:stream";
import { ZAP_LEVELS } from "../config/schema.js";
import type { LogLevel } from "../config/schema.js";
import type { Logger } from "../deps.js";

export type OutputStreamName = "stdout" | "stderr";

/** Where collector lines go besides the tail. */
export type OutputSink =
  { kind: "passthrough"; logger: Logger } | { kind: "file"; path: string; maxBytes?: number } | { kind: "discard" };

export const DEFAULT_TAIL_BYTES = 16 * 1024;
/** collector.log moves to collector.log.1 at this size, so a chatty collector cannot fill the disk. */
export const DEFAULT_LOG_FILE_MAX_BYTES = 16 * 1024 * 1024;
/** Longer lines (in UTF-16 units) are cut so a runaway line cannot exhaust memory. */
export const MAX_LINE_LENGTH = 64 * 1024;

/** Keeps the most recent lines whose total size stays within `maxBytes`. */
export class TailBuffer {
  readonly maxBytes: number;
  #lines: string[] = [];
  #bytes = 0;

  constructor(maxBytes: number = DEFAULT_TAIL_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`tail size must be >= 0, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  push(line: string): void {
    let kept = line;
    let size = Buffer.byteLength(kept) + 1;
    if (size > this.maxBytes) {
      // Keep the end of an oversized line; the end is usually the actual error.
      if (this.maxBytes < 2) return;
      kept = Buffer.from(kept)
        .subarray(-(this.maxBytes - 1))
        .toString("utf8");
      // Cutting inside a multi-byte character leaves U+FFFD, which may be longer: trim on.
      while (kept !== "" && Buffer.byteLength(kept) + 1 > this.maxBytes) kept = kept.slice(1);
      size = Buffer.byteLength(kept) + 1;
    }
    this.#lines.push(kept);
    this.#bytes += size;
    while (this.#bytes > this.maxBytes) {
      const dropped = this.#lines.shift();
      if (dropped === undefined) break;
      this.#bytes -= Buffer.byteLength(dropped) + 1;
    }
  }

  /** Size in bytes, counting one newline per line. */
  get bytes(): number {
    return this.#bytes;
  }

  text(): string {
    return this.#lines.join("\n");
  }
}

/** Turns chunks into complete lines; a final partial line is emitted by `end()`. */
export class LineSplitter {
  #partial = "";
  readonly #onLine: (line: string) => void;

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  write(chunk: string): void {
    const parts = (this.#partial + chunk).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const part of parts) this.#emit(part);
    if (this.#partial.length > MAX_LINE_LENGTH) {
      this.#emit(this.#partial);
      this.#partial = "";
    }
  }

  end(): void {
    if (this.#partial !== "") this.#emit(this.#partial);
    this.#partial = "";
  }

  #emit(line: string): void {
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line;
    this.#onLine(clean.length > MAX_LINE_LENGTH ? clean.slice(0, MAX_LINE_LENGTH) : clean);
  }
}

/**
 * The level of a collector log line written by zap's console encoder
 * (`<time>\t<level>\t<caller>\t<message>\t<json>`); `info` when it cannot tell.
 */
export function collectorLineLevel(line: string): LogLevel {
  const field = line.split("\t", 3)[1]?.trim().toLowerCase();
  return (field !== undefined ? ZAP_LEVELS[field] : undefined) ?? "info";
}

export interface OutputCapture {
  /** The bounded tail of both streams, in arrival order. */
  tail(): string;
  /** Resolves when both streams have ended and the log file (if any) is flushed. */
  readonly done: Promise<void>;
}

export interface CaptureOutputOptions {
  stdout: Readable | null;
  stderr: Readable | null;
  sink: OutputSink;
  /** Tail size in bytes. Default 16 KiB. */
  tailBytes?: number;
}

/** Reads both streams until they end, routing each line to the sink and the tail. */
export function captureOutput(options: CaptureOutputOptions): OutputCapture {
  const tail = new TailBuffer(options.tailBytes ?? DEFAULT_TAIL_BYTES);
  const sink = options.sink;
  const logger = sink.kind === "passthrough" ? sink.logger.child({ component: "collector" }) : undefined;
  // Plain appends on a file descriptor: a line is on disk (in the page cache) when the call
  // returns, so rotating by rename can never strand buffered lines.
  const log =
    sink.kind === "file" ? new RotatingLog(sink.path, sink.maxBytes ?? DEFAULT_LOG_FILE_MAX_BYTES) : undefined;

  const onLine = (stream: OutputStreamName, line: string): void => {
    tail.push(line);
    if (logger) logger[collectorLineLevel(line)]({ stream }, line);
    else log?.append(`${line}\n`);
  };

  const pump = (stream: Readable | null, name: OutputStreamName): Promise<void> => {
    if (!stream) return Promise.resolve();
    const splitter = new LineSplitter((line) => onLine(name, line));
    stream.setEncoding("utf8");
    return new Promise((resolve) => {
      stream.on("data", (chunk: string) => splitter.write(chunk));
      stream.once("error", () => undefined);
      stream.once("close", () => {
        splitter.end();
        resolve();
      });
    });
  };

  const done = Promise.all([pump(options.stdout, "stdout"), pump(options.stderr, "stderr")]).then(() => log?.close());
  return { tail: () => tail.text(), done };
}

/**
 * An append-only file that moves itself to `<path>.1` (replacing an older one) when it
 * reaches `maxBytes`. Write errors are swallowed: a failing log file must not take the
 * collector down, and the in-memory tail still has the lines.
 */
class RotatingLog {
  #fd: number | undefined;
  #size = 0;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.#open();
  }

  append(text: string): void {
    if (this.#fd === undefined) return;
    if (this.#size >= this.maxBytes) this.#rotate();
    try {
      this.#size += writeSync(this.#fd, text);
    } catch {
      // disk full or similar: drop the line from the file only
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #rotate(): void {
    this.close();
    try {
      renameSync(this.path, `${this.path}.1`);
    } catch {
      // keep appending to the same file rather than lose lines
    }
    this.#open();
  }

  #open(): void {
    try {
      this.#fd = openSync(this.path, "a", 0o600);
      this.#size = fstatSync(this.#fd).size;
    } catch {
      this.#fd = undefined;
    }
  }
}
