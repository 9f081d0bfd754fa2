/**
 * One ConnectionSettingsOffers can carry several connections under one hash: the OpAMP
 * connection (this room's) and the collector's own telemetry (the supervisor's, through
 * OwnTelemetryHandler). The server hears one status for the offer: APPLIED only when every
 * part this agent takes was applied; parts its capabilities turn away are named.
 */
import type { Logger } from "../deps.js";
import type { ConnectionSettingsOffer, OfferedSettings } from "../opamp/domain.js";
import { bytesToHex } from "../storage/index.js";
import type { SettingsStatus } from "./settings-status.js";

/** The own_metrics / own_traces / own_logs part of offers: the collector's config, the supervisor's to apply. */
export interface OwnTelemetryHandler {
  /** The own_* parts in the offer: those this agent takes, and those its capabilities turn away (with why). */
  parts(offer: ConnectionSettingsOffer): { accepted: readonly string[]; refused: readonly string[] };
  apply(offer: ConnectionSettingsOffer, signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }>;
}

export interface OfferParts {
  /** Set when the offer has own-telemetry parts this agent takes. */
  ownTelemetry: OwnTelemetryHandler | undefined;
  /** Own-telemetry parts turned away, with why. */
  refused: readonly string[];
}

export interface OfferSteps {
  status: SettingsStatus;
  acceptsOpamp: boolean;
  reportsStatus: boolean;
  logger: Logger;
  /** False when it failed (FAILED is then reported already). */
  applyOpamp(opamp: OfferedSettings): Promise<boolean>;
  failed(reason: string, result: string): Promise<false>;
}

/** The supervisor's operation queue, as far as connection work needs it: one operation at a time. */
export interface OfferQueue {
  enqueue(name: string, op: (signal: AbortSignal) => Promise<void>): Promise<void>;
  /** Replaces a waiting operation with the same key. */
  enqueueLatest(key: string, op: (signal: AbortSignal) => Promise<void>): Promise<void>;
}

/**
 * The one waiting offer. A newer offer replaces it before it runs (a superseded connection is
 * never tried), carrying forward the parts the newer one leaves out: in an offer, an absent
 * part means "keep what you have", so a waiting own_metrics must not be lost to it.
 */
export class WaitingOffer {
  #waiting: { offer: ConnectionSettingsOffer; receivedAt: number } | undefined;

  constructor(
    private readonly queue: OfferQueue,
    private readonly ownTelemetry: OwnTelemetryHandler | undefined,
    private readonly run: (
      offer: ConnectionSettingsOffer,
      receivedAt: number,
      parts: OfferParts,
      signal: AbortSignal,
    ) => Promise<void>,
  ) {}

  add(offer: ConnectionSettingsOffer, receivedAt: number): void {
    const merged = this.#waiting ? carryForward(offer, this.#waiting.offer) : offer;
    const own = this.#partsOf(merged);
    if (!merged.opamp && own.accepted.length + own.refused.length === 0) return;
    this.#waiting = { offer: merged, receivedAt };
    void this.queue.enqueueLatest("connection-settings", (signal) => {
      const next = this.#waiting;
      this.#waiting = undefined;
      if (!next) return Promise.resolve();
      const own = this.#partsOf(next.offer);
      const parts = { ownTelemetry: own.accepted.length > 0 ? this.ownTelemetry : undefined, refused: own.refused };
      return this.run(next.offer, next.receivedAt, parts, signal);
    });
  }

  #partsOf(offer: ConnectionSettingsOffer): { accepted: readonly string[]; refused: readonly string[] } {
    return this.ownTelemetry?.parts(offer) ?? { accepted: [], refused: [] };
  }
}

/** `newer` with the parts it leaves out taken from `older`; the hash is the newer one's. */
export function carryForward(newer: ConnectionSettingsOffer, older: ConnectionSettingsOffer): ConnectionSettingsOffer {
  return {
    hash: newer.hash,
    opamp: newer.opamp ?? older.opamp,
    ownMetrics: newer.ownMetrics ?? older.ownMetrics,
    ownTraces: newer.ownTraces ?? older.ownTraces,
    ownLogs: newer.ownLogs ?? older.ownLogs,
  };
}

export async function applyOfferParts(
  offer: ConnectionSettingsOffer,
  parts: OfferParts,
  steps: OfferSteps,
  signal: AbortSignal,
): Promise<void> {
  const { status, logger } = steps;
  const hashHex = bytesToHex(offer.hash);
  if (hashHex === status.lastHash) return; // the same offer again: as opamp-go, nothing to do
  const notTaken = [
    ...(offer.opamp && !steps.acceptsOpamp
      ? ["OpAMP connection settings (capabilities.accepts_opamp_connection_settings is false)"]
      : []),
    ...parts.refused,
  ];
  const opamp = steps.acceptsOpamp ? offer.opamp : undefined;
  const { ownTelemetry } = parts;
  if (!opamp && !ownTelemetry) {
    if (steps.reportsStatus)
      await status.set(offer.hash, "FAILED", `this agent does not accept ${notTaken.join(", ")}`);
    return;
  }
  if (notTaken.length > 0) logger.info({ hash: hashHex, parts: notTaken }, "offer parts not accepted; ignored");
  status.lastHash = hashHex;
  await status.set(offer.hash, "APPLYING", "");
  if (opamp && !(await steps.applyOpamp(opamp))) return;
  if (ownTelemetry) {
    const result = await ownTelemetry.apply(offer, signal);
    if (!result.ok) {
      await steps.failed(
        opamp ? `${result.reason} (the OpAMP connection settings were applied)` : result.reason,
        "failed",
      );
      return;
    }
  }
  await status.set(offer.hash, "APPLIED", "");
}
