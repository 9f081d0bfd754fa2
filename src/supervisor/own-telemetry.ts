/**
 * Own-telemetry offers (own_metrics, own_traces, own_logs) put into effect like a remote
 * config: the settings become a `service::telemetry` layer, the collector validates, runs and
 * proves the composed config, and only then are the settings kept (own-telemetry.json). A
 * failure leaves, or puts back, the settings that were in force.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { leftCollectorUntouched } from "../collector/outcome.js";
import type { Composition } from "../collector/composition.js";
import { withTail } from "../collector/tail.js";
import type { ConnectionSettingsOffer, OfferedTelemetry } from "../opamp/domain.js";
import { bytesToHex, describeWriteError, storageFaultCode, writeFileAtomic } from "../storage/index.js";
import type { StateStore } from "../storage/index.js";
import { sha256Hex } from "../connection/pem.js";
import {
  OWN_TELEMETRY_DOCUMENT,
  OWN_TELEMETRY_FILES_DIR,
  OWN_TELEMETRY_SIGNALS,
  ownTelemetryFiles,
  ownTelemetryLayer,
  ownTelemetrySecrets,
  parseStoredOwnTelemetry,
  storedOwnTelemetryJson,
} from "../telemetry/own-telemetry.js";
import type {
  OwnTelemetryDestination,
  OwnTelemetrySettings,
  OwnTelemetrySignal,
  StoredOwnTelemetry,
} from "../telemetry/own-telemetry.js";
import { checkTelemetryOffer } from "../telemetry/own-telemetry-offer.js";
import type { TelemetryPems } from "../telemetry/own-telemetry-offer.js";
import type { GrowingMasker } from "../telemetry/mask.js";
import type { OwnTelemetryHandler } from "../connection/index.js";
import { capabilityKey } from "./capabilities.js";
import type { SupervisorContext } from "./context.js";

type Outcome = { ok: true } | { ok: false; reason: string };

/** The supervisor.yaml switch that lets the server choose where `signal` goes. */
const capabilityOf = (signal: OwnTelemetrySignal): string => `reports_own_${signal}`;

function offered(offer: ConnectionSettingsOffer, signal: OwnTelemetrySignal): OfferedTelemetry | undefined {
  switch (signal) {
    case "metrics":
      return offer.ownMetrics;
    case "traces":
      return offer.ownTraces;
    case "logs":
      return offer.ownLogs;
  }
}

export class OwnTelemetry implements OwnTelemetryHandler {
  #settings: OwnTelemetrySettings;
  /** The offer hash (hex) the settings in force came from. */
  #hash: string;
  /** The settings document was damaged at start: the server must be told and offer again. */
  readonly lost: boolean;

  private constructor(
    private readonly ctx: SupervisorContext,
    /** Learn the offered header values (the log's and the server's maskers). */
    private readonly maskers: readonly GrowingMasker[],
    private readonly instanceUid: () => string,
    stored: StoredOwnTelemetry & { damaged: boolean },
  ) {
    this.#settings = stored.settings;
    this.#hash = stored.hash;
    this.lost = stored.damaged;
  }

  /** Reads the settings in force (a damaged document is set aside: no own telemetry) and hands them to the collector. */
  static async open(
    ctx: SupervisorContext,
    maskers: readonly GrowingMasker[],
    instanceUid: () => string,
  ): Promise<OwnTelemetry> {
    const self = new OwnTelemetry(ctx, maskers, instanceUid, await storedOwnTelemetry(ctx.store));
    self.#learnSecrets(self.#settings);
    ctx.collector.useOwnTelemetry(ownTelemetryLayer(self.#settings, instanceUid()));
    return self;
  }

  parts(offer: ConnectionSettingsOffer): { accepted: OwnTelemetrySignal[]; refused: string[] } {
    const present = OWN_TELEMETRY_SIGNALS.filter((s) => offered(offer, s) !== undefined);
    const takes = (s: OwnTelemetrySignal): boolean => this.ctx.config.capabilities[capabilityKey(capabilityOf(s))];
    return {
      accepted: present.filter(takes),
      refused: present.filter((s) => !takes(s)).map((s) => `own_${s} (capabilities.${capabilityOf(s)} is false)`),
    };
  }

  /**
   * The server assigned a new instance uid: the resource must name it, or the server would
   * take the collector's telemetry for another agent's. A failure keeps what runs (logged).
   */
  async instanceUidChanged(signal: AbortSignal): Promise<void> {
    if (ownTelemetryLayer(this.#settings, this.instanceUid()) === null) return;
    const outcome = await this.#putIntoEffect(this.#hash, this.#settings, [], signal);
    if (!outcome.ok)
      this.ctx.logger.warn(
        { reason: this.ctx.reporter.mask(outcome.reason) },
        "own telemetry still names the previous instance uid: the collector did not take the new one",
      );
  }

  /** Reasons carry collector output: masked like every text bound for the server. */
  async apply(offer: ConnectionSettingsOffer, signal: AbortSignal): Promise<Outcome> {
    const outcome = await this.#apply(offer, signal);
    return outcome.ok ? outcome : { ok: false, reason: this.ctx.reporter.mask(outcome.reason) };
  }

  async #apply(offer: ConnectionSettingsOffer, signal: AbortSignal): Promise<Outcome> {
    const next: Partial<Record<OwnTelemetrySignal, OwnTelemetryDestination | undefined>> = { ...this.#settings };
    const ignored: string[] = [];
    const pems: Array<{ signal: OwnTelemetrySignal; pems: TelemetryPems }> = [];
    for (const s of this.parts(offer).accepted) {
      const checked = checkTelemetryOffer(s, offered(offer, s) as OfferedTelemetry);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      ignored.push(...checked.ignored.map((field) => `own_${s}: ${field}`));
      next[s] = checked.destination === null ? undefined : { ...checked.destination };
      pems.push({ signal: s, pems: checked.pems });
    }
    try {
      for (const { signal: s, pems: material } of pems) {
        const destination = next[s];
        if (destination) next[s] = { ...destination, ...(await this.#writePems(material)) };
      }
    } catch (err) {
      if (storageFaultCode(err) === undefined) throw err;
      return { ok: false, reason: `cannot write the offered certificates: ${describeWriteError(err)}` };
    }
    return this.#putIntoEffect(bytesToHex(offer.hash), next, ignored, signal);
  }

  async #putIntoEffect(
    hash: string,
    next: OwnTelemetrySettings,
    ignored: readonly string[],
    signal: AbortSignal,
  ): Promise<Outcome> {
    const { collector, store, audit, logger } = this.ctx;
    this.#learnSecrets(next);
    const layer = ownTelemetryLayer(next, this.instanceUid());
    const working = await store.readLastWorkingRemoteConfig();
    const composed = await collector.composeFallback(working, layer);
    const overridden = composed.ok ? overriddenSignals(composed.composition.yaml, next) : [];
    if (!composed.ok || overridden.length > 0) {
      await this.#removeLeftoverFiles();
      if (!composed.ok) return { ok: false, reason: composed.message };
      const which = overridden.map((s) => `service::telemetry::${s}`).join(", ");
      return {
        ok: false,
        reason: `the local config replaces ${which}, so the offered destination would not be used; list $OWN_TELEMETRY_CONFIG after those files in agent.config_files to let the server's settings win`,
      };
    }
    const previous = collector.current()?.yaml;
    const outcome = await collector.apply(composed.composition, {
      preferReload: this.ctx.config.agent.useHupConfigReload,
      signal,
    });
    if (!outcome.ok) {
      const reason = withTail(outcome.message, outcome.tail);
      if (!leftCollectorUntouched(outcome.reason) && outcome.reason !== "aborted") await this.#restore(signal);
      await audit.append({
        action: "own-telemetry-failed",
        hash,
        result: "failed",
        reason,
        reasonCode: outcome.reason,
      });
      await this.#removeLeftoverFiles();
      return { ok: false, reason };
    }
    try {
      await store.writeJson(OWN_TELEMETRY_DOCUMENT, storedOwnTelemetryJson({ hash, settings: next }));
    } catch (err) {
      // Settings a restart would forget are not kept: back to the ones on disk.
      if (storageFaultCode(err) === undefined) throw err;
      if (composed.composition.yaml !== previous) await this.#restore(signal);
      return { ok: false, reason: `cannot keep the settings: ${describeWriteError(err)}; the previous ones stay` };
    }
    this.#settings = next;
    this.#hash = hash;
    collector.useOwnTelemetry(layer);
    this.#reportEffective(composed.composition);
    const signals = OWN_TELEMETRY_SIGNALS.filter((s) => next[s] !== undefined);
    const endpoints = Object.fromEntries(signals.map((s) => [s, next[s]?.endpoint]));
    await audit.append({ action: "own-telemetry-applied", hash, result: "applied", endpoints, mode: outcome.mode });
    logger.info({ hash, endpoints, ignored, mode: outcome.mode }, "own telemetry settings applied");
    await this.#removeLeftoverFiles();
    return { ok: true };
  }

  /** Also a candidate's: a failing collector may print them in the tail the server hears. */
  #learnSecrets(settings: OwnTelemetrySettings): void {
    for (const masker of this.maskers) masker.add(ownTelemetrySecrets(settings));
  }

  /** Back to the settings in force (the candidate may be running): restart and prove, or keep retrying. */
  async #restore(signal: AbortSignal): Promise<void> {
    const { collector, store, logger } = this.ctx;
    const composed = await collector.composeFallback(await store.readLastWorkingRemoteConfig());
    if (!composed.ok) {
      logger.error({ reason: composed.message }, "cannot compose the previous config to roll back to");
      return;
    }
    const outcome = await collector.restore(composed.composition, signal);
    this.#reportEffective(composed.composition);
    if (outcome.ok) logger.info("own telemetry settings rolled back; the previous config is healthy");
    else logger.error({ reason: outcome.message }, "the previous config failed too; retrying it with backoff");
  }

  #reportEffective(composition: Composition): void {
    this.ctx.reporter.effectiveConfig(composition.yaml);
  }

  /** Certificate material as files the collector reads, named by content (a running config's files never change). */
  async #writePems(pems: TelemetryPems): Promise<Pick<OwnTelemetryDestination, "caFile" | "certFile" | "keyFile">> {
    const dir = await this.ctx.stateDir.subdir(OWN_TELEMETRY_FILES_DIR);
    const write = async (pem: string | undefined): Promise<string | undefined> => {
      if (pem === undefined) return undefined;
      const path = join(dir, `${sha256Hex(pem).slice(0, 32)}.pem`);
      await writeFileAtomic(path, pem, { mode: 0o600 });
      return path;
    };
    return { caFile: await write(pems.ca), certFile: await write(pems.cert), keyFile: await write(pems.key) };
  }

  async #removeLeftoverFiles(): Promise<void> {
    const logger = this.ctx.logger;
    const dir = join(this.ctx.stateDir.root, OWN_TELEMETRY_FILES_DIR);
    const keep = new Set(ownTelemetryFiles(this.#settings));
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(dir, name);
      if (!keep.has(path))
        await rm(path, { force: true }).catch((err: unknown) => logger.debug({ err, path }, "cannot remove"));
    }
  }
}

/** The settings in force, as kept in the state directory ({} when none or unusable). */
/** The settings in force; `damaged`: the document was unusable (set aside), so none are. */
export async function storedOwnTelemetry(store: StateStore): Promise<StoredOwnTelemetry & { damaged: boolean }> {
  const read = await store.loadDocument(
    OWN_TELEMETRY_DOCUMENT,
    parseStoredOwnTelemetry,
    "the collector's own-telemetry settings: it runs without them until the server offers them again",
  );
  return read.kind === "ok"
    ? { ...read.value, damaged: false }
    : { hash: "", settings: {}, damaged: read.kind === "corrupt" };
}

/**
 * Signals whose offered endpoint is not in the composed config: a local file listed after
 * $OWN_TELEMETRY_CONFIG (or any, when the token is not listed) replaced that section.
 */
function overriddenSignals(yaml: string, settings: OwnTelemetrySettings): OwnTelemetrySignal[] {
  const config: unknown = parse(yaml);
  const telemetry = (config as { service?: { telemetry?: Record<string, unknown> } } | null)?.service?.telemetry ?? {};
  return OWN_TELEMETRY_SIGNALS.filter((signal) => {
    const destination = settings[signal];
    return (
      destination !== undefined &&
      !JSON.stringify(telemetry[signal] ?? null).includes(JSON.stringify(destination.endpoint))
    );
  });
}
