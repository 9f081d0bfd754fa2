/**
 * Watches the configured certificate, key and CA files for rotations done by other tools
 * (cert-manager, Vault agent, certbot). The parent directories are watched rather than the
 * files, because those tools replace files by rename or by swapping a `..data` symlink,
 * which a watch on the old inode never sees.
 *
 * After a burst of events settles, the files are read and checked as a set. A consistent
 * set that differs from the last one delivered goes to `onRotated`; an inconsistent one
 * (half written, key and certificate from different pairs, expired) is logged once and
 * ignored until the files change again.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { watch } from "chokidar";
import type { FSWatcher } from "chokidar";
import type { Clock, Logger } from "../deps.js";
import { checkCertificate, parseBundle } from "./certificate.js";
import type { CertificateInfo } from "./certificate.js";
import { sha256Hex } from "./pem.js";

export interface WatchedFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
}

/** A consistent set of file contents. */
export interface FileSnapshot {
  certPem?: string;
  keyPem?: string;
  caPem?: string;
  /** The client certificate, when there is one. */
  info?: CertificateInfo;
  /** Changes whenever any content changes. */
  id: string;
}

export type SnapshotResult = { ok: true; snapshot: FileSnapshot } | { ok: false; reason: string; id: string };

export interface CertificateFileWatcherOptions {
  files: WatchedFiles;
  clock: Clock;
  logger: Logger;
  /** Quiet time after the last event before the files are read (default 250 ms). */
  settleMs?: number;
  onRotated(snapshot: FileSnapshot): void;
}

/** Reads the files and checks them as a set: parses, validity period, key matches certificate. */
export async function readSnapshot(files: WatchedFiles, now: number): Promise<SnapshotResult> {
  const contents: Record<string, string> = {};
  for (const [key, path] of Object.entries(files) as Array<[keyof WatchedFiles, string | undefined]>) {
    if (!path) continue;
    try {
      contents[key] = await readFile(path, "utf8");
    } catch (err) {
      return {
        ok: false,
        reason: `${labelOf(key)} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        id: "unreadable",
      };
    }
  }
  const id = sha256Hex(JSON.stringify([contents["certFile"], contents["keyFile"], contents["caFile"]]));
  const snapshot: FileSnapshot = { id };
  if (contents["caFile"] !== undefined) {
    const ca = parseBundle(contents["caFile"]);
    if (typeof ca === "string") return { ok: false, reason: `server.tls.ca_file ${files.caFile}: ${ca}`, id };
    snapshot.caPem = contents["caFile"];
  }
  const certPem = contents["certFile"];
  const keyPem = contents["keyFile"];
  if (certPem !== undefined && keyPem !== undefined) {
    const check = checkCertificate({
      certPem,
      keyPem,
      now,
      label: `server.tls.cert_file ${files.certFile} with key_file ${files.keyFile}`,
    });
    if (!check.ok) return { ok: false, reason: check.message, id };
    Object.assign(snapshot, { certPem, keyPem, info: check.info });
  }
  return { ok: true, snapshot };
}

export class CertificateFileWatcher {
  readonly #o: CertificateFileWatcherOptions;
  readonly #paths: Set<string>;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastDelivered: string | undefined;
  #lastRejected: string | undefined;
  #reading: Promise<void> = Promise.resolve();

  constructor(options: CertificateFileWatcherOptions) {
    this.#o = options;
    this.#paths = new Set(
      Object.values(options.files)
        .filter((p): p is string => Boolean(p))
        .map((p) => resolve(p)),
    );
  }

  /** Remembers the set in use now, so only later changes count as rotations. */
  setCurrent(id: string): void {
    this.#lastDelivered = id;
  }

  async start(): Promise<void> {
    if (this.#paths.size === 0) return;
    const dirs = [...new Set([...this.#paths].map((p) => dirname(p)))];
    const watcher = watch(dirs, { ignoreInitial: true, depth: 0, persistent: true });
    watcher.on("all", (_event, path) => {
      const full = resolve(path);
      // "..data" and friends: the Kubernetes atomic writer swaps a symlink to a new directory.
      if (this.#paths.has(full) || basename(full).startsWith("..")) this.#schedule();
    });
    watcher.on("error", (err) => this.#o.logger.warn({ err }, "certificate file watcher error"));
    await new Promise<void>((ready) => watcher.once("ready", () => ready()));
    this.#watcher = watcher;
    // A rotation between reading the files at start and the watch being ready has no event.
    await this.check();
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#watcher?.close();
    this.#watcher = undefined;
    await this.#reading;
  }

  /** Reads the files every `intervalMs` until `signal` aborts: a backstop for missed events and for a set that failed while the server was away. */
  async recheckEvery(intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#o.clock.sleep(intervalMs, signal).catch(() => undefined);
      if (!signal.aborted) await this.check();
    }
  }

  /** Reads the files now (also called by tests and after a failed reconnect). */
  check(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#check());
    return this.#reading;
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    // A real timer on purpose: this debounces file system events, which arrive in real time.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.check();
    }, this.#o.settleMs ?? 250);
  }

  async #check(): Promise<void> {
    const files: WatchedFiles = Object.fromEntries(Object.entries(this.#o.files).filter(([, v]) => Boolean(v)));
    const result = await readSnapshot(files, this.#o.clock.now());
    if (!result.ok) {
      // Once per episode: a tool rewriting the files passes through several broken states
      // (truncated, half written, key not yet replaced); one warning says it all.
      if (this.#lastRejected === undefined) {
        this.#o.logger.warn(
          { reason: result.reason },
          "certificate files changed but are not usable yet; keeping the current connection",
        );
      } else if (this.#lastRejected !== result.id) {
        this.#o.logger.debug({ reason: result.reason }, "certificate files still not usable");
      }
      this.#lastRejected = result.id;
      return;
    }
    this.#lastRejected = undefined;
    if (result.snapshot.id === this.#lastDelivered) return;
    this.#lastDelivered = result.snapshot.id;
    this.#o.onRotated(result.snapshot);
  }
}

function labelOf(key: keyof WatchedFiles): string {
  return { certFile: "server.tls.cert_file", keyFile: "server.tls.key_file", caFile: "server.tls.ca_file" }[key];
}
