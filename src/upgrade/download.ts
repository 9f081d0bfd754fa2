/**
 * Streams a package to a file while computing its SHA-256: constant memory whatever the
 * size (the response is piped with backpressure, never buffered), a hard size cap, an idle
 * watchdog, an overall deadline, and retries that resume with `Range: bytes=<have>-`.
 * A partial file left by an earlier attempt (or an earlier supervisor run) is resumed too.
 */
import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import * as fsp from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { once } from "node:events";
import type { ConnectionOptions } from "node:tls";
import type { Clock } from "../deps.js";
import { abortError } from "../errors.js";
import { isErrno } from "../storage/index.js";
import { GetError, httpGet, transientStatus } from "./http-get.js";

export interface DownloadOptions {
  url: string;
  /** Headers from the offer (DownloadableFile.headers); may hold credentials. */
  headers: Readonly<Record<string, string>>;
  /** Destination; an existing file is taken as the first bytes and resumed. */
  dest: string;
  maxBytes: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  attempts: number;
  maxRedirects: number;
  tlsFor: (url: URL) => Promise<ConnectionOptions>;
  /** The OpAMP connection's credentials (server.auth) for a URL of its own origin; {} elsewhere. */
  authFor?: ((url: URL) => Promise<Record<string, string>>) | undefined;
  clock: Clock;
  signal: AbortSignal;
  /** Every chunk; `total` is undefined when the server sends no length. */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Each attempt that got a response: where it started (0 or a resume offset). */
  onAttempt?: (info: { attempt: number; offset: number; status: number; total: number | undefined }) => void;
}

export type DownloadResult =
  | { ok: true; digest: Uint8Array; size: number; attempts: number }
  /** `transient`: the package itself was not shown bad (network, deadline); a later offer may retry. */
  | { ok: false; reason: string; transient: boolean; attempts: number };

class Failure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/** The digest of the bytes in the file so far; rebuilt from disk when it went out of step. */
class RunningHash {
  hash: Hash = createHash("sha256");
  length = 0;

  async syncWith(path: string, size: number): Promise<void> {
    if (size === this.length) return;
    this.hash = createHash("sha256");
    this.length = 0;
    if (size === 0) return;
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) {
      this.hash.update(chunk as Buffer);
      this.length += (chunk as Buffer).length;
    }
  }

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.length += chunk.length;
  }
}

/** Downloads `options.url` into `options.dest`. Throws only when `options.signal` aborts. */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, deadline]);
  const running = new RunningHash();
  let attempt = 0;
  let lastReason = "";
  while (attempt < options.attempts) {
    attempt++;
    try {
      const size = await fileSize(options.dest);
      await running.syncWith(options.dest, size);
      const done = await attemptOnce(options, running, size, attempt, signal);
      return { ok: true, digest: new Uint8Array(done.digest), size: done.size, attempts: attempt };
    } catch (err) {
      if (options.signal.aborted) throw abortError(options.signal);
      if (deadline.aborted) {
        return {
          ok: false,
          reason: `download did not finish within ${options.timeoutMs} ms${lastReason ? ` (${lastReason})` : ""}`,
          transient: true,
          attempts: attempt,
        };
      }
      const failure = toFailure(err);
      lastReason = failure.message;
      if (!failure.transient) return { ok: false, reason: failure.message, transient: false, attempts: attempt };
      if (attempt >= options.attempts) break;
      try {
        await options.clock.sleep(Math.min(250 * 2 ** (attempt - 1), 5_000), signal);
      } catch {
        if (options.signal.aborted) throw abortError(options.signal);
        return {
          ok: false,
          reason: `download did not finish within ${options.timeoutMs} ms (${lastReason})`,
          transient: true,
          attempts: attempt,
        };
      }
    }
  }
  return {
    ok: false,
    reason: `download failed after ${attempt} attempt(s): ${lastReason}`,
    transient: true,
    attempts: attempt,
  };
}

async function attemptOnce(
  options: DownloadOptions,
  running: RunningHash,
  offset: number,
  attempt: number,
  signal: AbortSignal,
): Promise<{ digest: Buffer; size: number }> {
  const idle = new IdleWatchdog(options.idleTimeoutMs);
  try {
    const { res } = await httpGet(new URL(options.url), offset > 0 ? { range: `bytes=${offset}-` } : {}, {
      headers: options.headers,
      maxRedirects: options.maxRedirects,
      tlsFor: options.tlsFor,
      authFor: options.authFor,
      signal,
      onRequest: (destroy) => idle.arm(destroy),
    });
    const status = res.statusCode ?? 0;
    if (status === 416 && offset > 0) {
      res.resume();
      // "bytes */<total>": the partial file may already be the whole file.
      const total = /^bytes \*\/(\d+)$/.exec(res.headers["content-range"] ?? "")?.[1];
      if (total !== undefined && Number(total) === offset) return { digest: running.hash.digest(), size: offset };
      await restart(options.dest, running);
      throw new Failure("the server refused to resume the partial download; starting over", true);
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      throw new Failure(`the server answered HTTP ${status}`, transientStatus(status));
    }
    let start = 0;
    let total: number | undefined;
    const length = contentLength(res);
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers["content-range"] ?? "");
      if (!range || Number(range[1]) !== offset) {
        res.resume();
        await restart(options.dest, running);
        throw new Failure(
          `the server answered a resume with an unexpected Content-Range (${String(res.headers["content-range"])})`,
          true,
        );
      }
      start = offset;
      total = range[3] === "*" ? (length !== undefined ? offset + length : undefined) : Number(range[3]);
    } else {
      if (offset > 0) await restart(options.dest, running); // no Range support: start over
      total = length;
    }
    options.onAttempt?.({ attempt, offset: start, status, total });
    if (total !== undefined && total > options.maxBytes) {
      res.destroy();
      throw new Failure(
        `the package is ${total} bytes, over the ${options.maxBytes}-byte cap (agent.package.max_size)`,
        false,
      );
    }
    await stream(res, options, running, start, total, idle);
    if (total !== undefined && running.length !== total) {
      throw new Failure(`the download ended after ${running.length} of ${total} bytes`, true);
    }
    const handle = await fsp.open(options.dest, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { digest: running.hash.digest(), size: running.length };
  } finally {
    idle.disarm();
  }
}

/**
 * Copies the body to the file through the hash. On a broken connection, what arrived is
 * still flushed to the file (not dropped with a destroyed stream), so the next attempt can
 * resume from it.
 */
async function stream(
  res: IncomingMessage,
  options: DownloadOptions,
  running: RunningHash,
  start: number,
  total: number | undefined,
  idle: IdleWatchdog,
): Promise<void> {
  const out = createWriteStream(options.dest, { flags: start > 0 ? "a" : "w", mode: 0o600 });
  const closed = new Promise<void>((resolve, reject) => {
    out.once("close", resolve);
    out.once("error", reject);
  });
  let failure: Failure | undefined;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      idle.kick();
      if (running.length + chunk.length > options.maxBytes) {
        failure = new Failure(
          `the package is larger than the ${options.maxBytes}-byte cap (agent.package.max_size)`,
          false,
        );
        break;
      }
      running.update(chunk);
      options.onProgress?.(running.length, total);
      if (!out.write(chunk)) await once(out, "drain");
    }
  } catch (err) {
    failure =
      err instanceof Failure
        ? err
        : new Failure(`the download was interrupted: ${err instanceof Error ? err.message : String(err)}`, true);
  } finally {
    if (failure) res.destroy();
    out.end();
    await closed;
  }
  if (failure) throw failure;
}

/** Destroys the request when no byte arrived for `ms`. */
class IdleWatchdog {
  #timer: NodeJS.Timeout | undefined;
  #destroy: ((err: Error) => void) | undefined;

  constructor(private readonly ms: number) {}

  arm(destroy: (err: Error) => void): void {
    this.#destroy = destroy;
    this.kick();
  }

  kick(): void {
    clearTimeout(this.#timer);
    const destroy = this.#destroy;
    if (!destroy) return;
    this.#timer = setTimeout(() => destroy(new Failure(`no data received for ${this.ms} ms`, true)), this.ms);
    this.#timer.unref();
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#destroy = undefined;
  }
}

async function restart(path: string, running: RunningHash): Promise<void> {
  await fsp.truncate(path, 0).catch((err: unknown) => {
    if (!isErrno(err, "ENOENT")) throw err;
  });
  await running.syncWith(path, 0);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await fsp.stat(path)).size;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return 0;
    throw err;
  }
}

function contentLength(res: IncomingMessage): number | undefined {
  const text = res.headers["content-length"];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function toFailure(err: unknown): Failure {
  if (err instanceof Failure) return err;
  if (err instanceof GetError) return new Failure(err.message, err.transient);
  if (err instanceof Error && err.cause instanceof Failure) return err.cause;
  return new Failure(err instanceof Error ? err.message : String(err), true);
}
