/**
 * The ConnectionSettingsStatus the server hears, on the one status primitive: persisted,
 * then reported (also when the disk refuses the write), settled at start, and the hash last
 * acted on.
 */
import type { Logger } from "../deps.js";
import type { OpampClient } from "../opamp/client.js";
import { PersistedStatus, bytesToHex, settleInterrupted } from "../storage/index.js";
import type { ConnectionStatusValue, CredentialStore, StoredConnectionStatus } from "./credential-store.js";

export class SettingsStatus {
  readonly #status: PersistedStatus<StoredConnectionStatus>;
  #client: OpampClient | undefined;
  /** Offer hash last acted on; the same offer again is ignored (as opamp-go does). */
  lastHash: string | undefined;

  private constructor(
    store: CredentialStore,
    private readonly reports: boolean,
    logger: Logger,
  ) {
    this.#status = new PersistedStatus({
      what: "connection settings status",
      logger,
      write: (status) => store.writeStatus(status),
      send: (status) => this.#report(status),
    });
  }

  /** Reads the status; an APPLYING on disk means the supervisor died mid-trial: the previous settings are in force. */
  static async open(store: CredentialStore, reports: boolean, logger: Logger): Promise<SettingsStatus> {
    const self = new SettingsStatus(store, reports, logger);
    const stored = await store.readStatus().catch(() => undefined);
    const { status, interrupted } = settleInterrupted(stored, ["APPLYING"], (s): StoredConnectionStatus => ({
      hash: s.hash,
      status: "FAILED",
      errorMessage: "the supervisor restarted while applying these settings; the previous settings are in use",
    }));
    if (interrupted && status) {
      await self.#status.set(status);
      return self; // not remembered as handled: the same offer again is tried again
    }
    if (status) {
      self.#status.restore(status);
      self.lastHash = bytesToHex(status.hash);
    }
    return self;
  }

  /** Starts reporting; the status in force goes out at once. */
  attach(client: OpampClient): void {
    this.#client = client;
    const current = this.#status.current;
    if (current) this.#report(current);
  }

  /**
   * Settings the status says are applied were lost (a damaged state file): FAILED for that
   * offer, and forgotten as handled, so the server sees it and the same offer is taken again.
   */
  async lost(reason: string): Promise<void> {
    const current = this.#status.current;
    this.lastHash = undefined;
    if (current?.status === "APPLIED") await this.#status.set({ ...current, status: "FAILED", errorMessage: reason });
  }

  /** Resolves false when the status reached the server but not the disk (retried with the next set). */
  set(hash: Uint8Array, status: ConnectionStatusValue, errorMessage: string): Promise<boolean> {
    return this.#status.set({ hash, status, errorMessage });
  }

  #report(status: StoredConnectionStatus): void {
    if (!this.reports || !this.#client) return;
    this.#client.setStatus("connectionSettingsStatus", {
      hash: status.hash,
      status: status.status,
      errorMessage: status.errorMessage,
    });
  }
}
