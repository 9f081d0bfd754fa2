/**
 * Feeds SupervisorMetrics from events that exist anyway: the OpAMP client's connection
 * states and wire sizes, the collector controller's runs, crashes and health checks, and
 * the state directory's refused writes (a wrapper around its filesystem seam).
 */
import type { FileHandle } from "node:fs/promises";
import type { CollectorObserver } from "../collector/controller.js";
import { certificateInfo } from "../connection/certificate.js";
import type { ConnectionState } from "../opamp/client-types.js";
import type { WireMeter } from "../opamp/transport.js";
import { storageFaultCode } from "../storage/fs.js";
import type { SupervisorMetrics } from "./metrics.js";

/** Connection state gauge and reconnects: every `connecting` after the first is a reconnect. */
export function connectionObserver(metrics: SupervisorMetrics): (state: ConnectionState) => void {
  let connects = 0;
  return (state) => {
    metrics.connectionState(state.kind);
    if (state.kind === "connecting" && connects++ > 0) metrics.reconnect();
  };
}

export function wireMeter(metrics: SupervisorMetrics): WireMeter {
  return { sent: (bytes) => metrics.messageSent(bytes), received: (bytes) => metrics.messageReceived(bytes) };
}

/** Restarts (every run after the first), unexpected exits by reason, health checks by result. */
export function collectorObserver(metrics: SupervisorMetrics): CollectorObserver {
  let runs = 0;
  return {
    started: (attempt) => {
      if (runs++ > 0) metrics.collectorRestart(attempt > 0 ? "crash" : "requested");
    },
    crashed: (failure) => {
      if (failure.kind === "spawn") metrics.collectorExit({ reason: "start_failed" });
      else if (failure.exit.signal !== null) metrics.collectorExit({ reason: "signal", signal: failure.exit.signal });
      else metrics.collectorExit({ reason: "exit_code", code: failure.exit.code ?? -1 });
    },
    checked: (result) => metrics.healthCheck(result),
  };
}

/**
 * The client certificate's expiry, read from what the connection uses (PEM text or file);
 * called at start and at each connect, since a rotated certificate always reconnects.
 */
export async function recordCertificateExpiry(
  metrics: SupervisorMetrics,
  tls: { certPem?: string; certFile?: string },
  readFile: (path: string) => Promise<string>,
): Promise<void> {
  const pem = tls.certPem ?? (tls.certFile ? await readFile(tls.certFile).catch(() => undefined) : undefined);
  metrics.certificateExpiry(pem === undefined ? undefined : certificateInfo(pem)?.notAfter);
}

/** The write calls of a file handle whose refusal is a state write failure. */
const HANDLE_WRITES = new Set<PropertyKey>(["write", "writeFile", "appendFile", "sync", "datasync", "truncate"]);

/**
 * Wraps a filesystem seam (the state store's or the audit log's) so that each storage fault
 * (ENOSPC, EROFS, EIO, ...) from a write, sync or rename is counted; the error still reaches
 * the caller unchanged.
 */
export function countingWrites<F extends { open: (...args: never[]) => Promise<FileHandle>; rename: unknown }>(
  fs: F,
  file: "state" | "audit",
  metrics: SupervisorMetrics,
): F {
  const counted = <T>(promise: Promise<T>): Promise<T> =>
    promise.catch((err: unknown) => {
      const code = storageFaultCode(err);
      if (code !== undefined) metrics.stateWriteFailure(file, code);
      throw err;
    });
  const watch = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        const method = value as (...args: unknown[]) => unknown;
        if (!HANDLE_WRITES.has(prop)) return method.bind(target);
        return (...args: unknown[]) => counted(method.apply(target, args) as Promise<unknown>);
      },
    });
  const rename = fs.rename as (...args: unknown[]) => Promise<void>;
  return {
    ...fs,
    open: (...args: Parameters<F["open"]>) => counted(fs.open(...args)).then(watch),
    rename: (...args: unknown[]) => counted(rename(...args)),
  };
}
