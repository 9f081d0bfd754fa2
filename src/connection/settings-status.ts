/**
 * The ConnectionSettingsStatus the server hears: persisted before it is reported (what the
 * server hears is what a restart will say), settled at start, and the hash last acted on.
 */
import type { OpampClient } from "../opamp/client.js";
import { bytesToHex } from "../storage/index.js";
import type { ConnectionStatusValue, CredentialStore, StoredConnectionStatus } from "./credential-store.js";

export class SettingsStatus {
  #status: StoredConnectionStatus | undefined;
  #client: OpampClient | undefined;
  /** Offer hash last acted on; the same offer again is ignored (as opamp-go does). */
  lastHash: string | undefined;

  private constructor(
    private readonly store: CredentialStore,
    private readonly reports: boolean,
  ) {}

  /** Reads the status; an APPLYING on disk means the supervisor died mid-trial: the previous settings are in force. */
  static async open(store: CredentialStore, reports: boolean): Promise<SettingsStatus> {
    const self = new SettingsStatus(store, reports);
    const status = await store.readStatus().catch(() => undefined);
    if (status?.status === "APPLYING") {
      const settled: StoredConnectionStatus = { hash: status.hash, status: "FAILED", errorMessage: "the supervisor restarted while applying these settings; the previous settings are in use" };
      await store.writeStatus(settled);
      self.#status = settled;
      return self; // not remembered as handled: the same offer again is tried again
    }
    self.#status = status;
    if (status) self.lastHash = bytesToHex(status.hash);
    return self;
  }

  /** Starts reporting; the status on disk goes out at once. */
  attach(client: OpampClient): void {
    this.#client = client;
    if (this.#status) this.#report(this.#status);
  }

  async set(hash: Uint8Array, status: ConnectionStatusValue, errorMessage: string): Promise<void> {
    const value: StoredConnectionStatus = { hash, status, errorMessage };
    await this.store.writeStatus(value);
    this.#status = value;
    this.#report(value);
  }

  #report(status: StoredConnectionStatus): void {
    if (!this.reports || !this.#client) return;
    this.#client.setStatus("connectionSettingsStatus", { hash: status.hash, status: status.status, errorMessage: status.errorMessage });
  }
}
