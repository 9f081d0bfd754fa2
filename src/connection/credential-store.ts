/**
 * Persistence for accepted OpAMP connection settings, their status, client certificates
 * and the key of an outstanding CSR. Documents are JSON in the state directory (atomic,
 * 0600); certificate and key PEMs live in its private `tls/` subdirectory (0700), each file
 * written atomically with mode 0600 and named by the SHA-256 of the certificate, so the
 * settings document is the single switch between the old and the new certificate.
 */
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.js";
import type { StateDir } from "../storage/state-dir.js";
import type { StateStore } from "../storage/state.js";
import { encodeOfferStatus, parseOfferStatus } from "../storage/documents.js";
import { OFFER_STATES } from "../storage/persisted-status.js";
import type { OfferState, OfferStatus } from "../storage/persisted-status.js";
import {
  bytesToHex,
  expectHex,
  expectObject,
  expectOneOf,
  expectString,
  expectVersion,
  ShapeError,
} from "../storage/json-shape.js";
import type { JsonObject } from "../storage/json-shape.js";
import type { TlsVersion } from "./offer-policy.js";
import { sha256Hex } from "./pem.js";

export const TLS_DOCUMENTS = {
  settings: "connection-settings.json",
  status: "connection-settings-status.json",
  pendingCsr: "certificate-request.json",
} as const;

const TLS_SUBDIR = "tls";
const VERSION = 1;
const CLIENT_FILE = /^client-[0-9a-f]{16}\.(?:pem|key|ca\.pem)$/;
const CSR_KEY_FILE = "csr.key";

/** File names (inside `tls/`) of one stored client certificate. */
export interface CertificateRef {
  certFile: string;
  keyFile: string;
  caFile: string | null;
}

export interface StoredCertificate {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface StoredConnectionSettings {
  /** Fingerprint of the supervisor.yaml server section these settings replaced. */
  baseline: string;
  /** The offer hash (opaque). */
  hash: Uint8Array;
  endpoint: string;
  /** Secret values: the document is 0600 and never logged. */
  headers: Record<string, string>;
  minVersion: TlsVersion;
  heartbeatSeconds: number | null;
  certificate: CertificateRef | null;
}

/** The shared offer states and status shape (storage/persisted-status.ts). */
export const CONNECTION_STATUSES = OFFER_STATES;
export type ConnectionStatusValue = OfferState;
export type StoredConnectionStatus = OfferStatus;

export interface PendingCsr {
  instanceUid: string;
  csrPem: string;
  keyPem: string;
  /** Milliseconds since the epoch of the first send. */
  requestedAt: number;
}

export class CredentialStore {
  readonly #store: StateStore;
  readonly #dir: string;

  private constructor(store: StateStore, dir: string) {
    this.#store = store;
    this.#dir = dir;
  }

  static async open(stateDir: StateDir, store: StateStore): Promise<CredentialStore> {
    return new CredentialStore(store, await stateDir.subdir(TLS_SUBDIR));
  }

  /** Absolute path of a file in the private tls directory. */
  path(name: string): string {
    return join(this.#dir, name);
  }

  // --- accepted settings ---------------------------------------------------------------

  async readSettings(): Promise<StoredConnectionSettings | undefined> {
    return this.#store.loadJson(
      TLS_DOCUMENTS.settings,
      parseSettings,
      "the connection settings accepted from the server: supervisor.yaml's are used",
    );
  }

  /** Writes the settings document (the switch), then forgets every certificate it does not reference. */
  async commitSettings(settings: StoredConnectionSettings): Promise<void> {
    await this.#store.writeJson(TLS_DOCUMENTS.settings, encodeSettings(settings));
    await this.#prune(settings.certificate);
  }

  /** Drops accepted settings (supervisor.yaml changed underneath them). */
  async clearSettings(): Promise<void> {
    await this.#store.remove(TLS_DOCUMENTS.settings);
    await this.#prune(null);
  }

  // --- certificates --------------------------------------------------------------------

  /** Writes a candidate certificate and key (0600, atomic). Nothing uses them until committed. */
  async stageCertificate(cert: StoredCertificate): Promise<CertificateRef> {
    const id = sha256Hex(cert.certPem).slice(0, 16);
    const ref: CertificateRef = {
      certFile: `client-${id}.pem`,
      keyFile: `client-${id}.key`,
      caFile: cert.caPem.trim() ? `client-${id}.ca.pem` : null,
    };
    await writeFileAtomic(this.path(ref.keyFile), cert.keyPem, { mode: 0o600 });
    await writeFileAtomic(this.path(ref.certFile), cert.certPem, { mode: 0o600 });
    if (ref.caFile) await writeFileAtomic(this.path(ref.caFile), cert.caPem, { mode: 0o600 });
    return ref;
  }

  async readCertificate(ref: CertificateRef): Promise<StoredCertificate> {
    const [certPem, keyPem, caPem] = await Promise.all([
      fsp.readFile(this.path(ref.certFile), "utf8"),
      fsp.readFile(this.path(ref.keyFile), "utf8"),
      ref.caFile ? fsp.readFile(this.path(ref.caFile), "utf8") : Promise.resolve(""),
    ]);
    return { certPem, keyPem, caPem };
  }

  /** Removes a staged certificate that was not accepted, unless the committed settings use it. */
  async discard(ref: CertificateRef): Promise<void> {
    const committed = await this.readSettings().catch(() => undefined);
    if (committed?.certificate?.certFile === ref.certFile) return;
    for (const name of [ref.certFile, ref.keyFile, ref.caFile]) {
      if (name) await fsp.rm(this.path(name), { force: true });
    }
  }

  async #prune(keep: CertificateRef | null): Promise<void> {
    const names = await fsp.readdir(this.#dir);
    const kept = new Set([keep?.certFile, keep?.keyFile, keep?.caFile].filter((n): n is string => Boolean(n)));
    for (const name of names) {
      if (CLIENT_FILE.test(name) && !kept.has(name)) await fsp.rm(this.path(name), { force: true });
    }
  }

  // --- status ---------------------------------------------------------------------------

  async readStatus(): Promise<StoredConnectionStatus | undefined> {
    return this.#store.loadJson(
      TLS_DOCUMENTS.status,
      parseOfferStatus,
      "the connection settings status: the settings in force are reported",
    );
  }

  async writeStatus(status: StoredConnectionStatus): Promise<void> {
    await this.#store.writeJson(TLS_DOCUMENTS.status, encodeOfferStatus(status));
  }

  // --- the outstanding certificate request ----------------------------------------------

  async readPendingCsr(): Promise<PendingCsr | undefined> {
    const doc = await this.#store.loadJson(
      TLS_DOCUMENTS.pendingCsr,
      parsePendingCsr,
      "the outstanding certificate request: a new one is made when needed",
    );
    if (!doc) return undefined;
    const key = await readFileIfExists(this.path(CSR_KEY_FILE));
    return key ? { ...doc, keyPem: key.toString("utf8") } : undefined;
  }

  /** Key first, then the document that refers to it: a crash in between leaves no dangling request. */
  async writePendingCsr(pending: PendingCsr): Promise<void> {
    await writeFileAtomic(this.path(CSR_KEY_FILE), pending.keyPem, { mode: 0o600 });
    await this.#store.writeJson(TLS_DOCUMENTS.pendingCsr, {
      version: VERSION,
      instanceUid: pending.instanceUid,
      csrPem: pending.csrPem,
      requestedAt: new Date(pending.requestedAt).toISOString(),
    });
  }

  async clearPendingCsr(): Promise<void> {
    await this.#store.remove(TLS_DOCUMENTS.pendingCsr);
    await fsp.rm(this.path(CSR_KEY_FILE), { force: true });
  }
}

/** Fingerprint of the server settings in supervisor.yaml; accepted settings are dropped when it changes. */
export function settingsBaseline(parts: Record<string, unknown>): string {
  return sha256Hex(JSON.stringify(parts)).slice(0, 32);
}

function encodeSettings(s: StoredConnectionSettings): JsonObject {
  return {
    version: VERSION,
    baseline: s.baseline,
    hash: bytesToHex(s.hash),
    endpoint: s.endpoint,
    headers: s.headers,
    minVersion: s.minVersion,
    heartbeatSeconds: s.heartbeatSeconds,
    certificate: s.certificate,
  };
}

function parseSettings(value: unknown): StoredConnectionSettings {
  const where = TLS_DOCUMENTS.settings;
  const doc = expectObject(value, where);
  expectVersion(doc, VERSION, where);
  const headersObj = expectObject(doc["headers"], `${where}.headers`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(headersObj)) {
    if (typeof v !== "string") throw new ShapeError(`${where}.headers: expected string values`);
    Object.defineProperty(headers, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  const heartbeat = doc["heartbeatSeconds"];
  if (heartbeat !== null && (typeof heartbeat !== "number" || !Number.isInteger(heartbeat) || heartbeat < 0)) {
    throw new ShapeError(`${where}.heartbeatSeconds: expected a non-negative integer or null`);
  }
  return {
    baseline: expectString(doc, "baseline", where),
    hash: expectHex(doc, "hash", where),
    endpoint: expectString(doc, "endpoint", where),
    headers,
    minVersion: expectOneOf(doc, "minVersion", ["TLSv1.2", "TLSv1.3"] as const, where),
    heartbeatSeconds: heartbeat,
    certificate: doc["certificate"] === null ? null : parseRef(doc["certificate"], `${where}.certificate`),
  };
}

function parseRef(value: unknown, where: string): CertificateRef {
  const ref = expectObject(value, where);
  const name = (key: string): string => {
    const text = expectString(ref, key, where);
    if (!CLIENT_FILE.test(text)) throw new ShapeError(`${where}.${key}: not a stored certificate file name`);
    return text;
  };
  return {
    certFile: name("certFile"),
    keyFile: name("keyFile"),
    caFile: ref["caFile"] === null ? null : name("caFile"),
  };
}

function parsePendingCsr(value: unknown): Omit<PendingCsr, "keyPem"> {
  const where = TLS_DOCUMENTS.pendingCsr;
  const doc = expectObject(value, where);
  expectVersion(doc, VERSION, where);
  const requestedAt = Date.parse(expectString(doc, "requestedAt", where));
  if (Number.isNaN(requestedAt)) throw new ShapeError(`${where}.requestedAt: expected an ISO time`);
  return {
    instanceUid: expectString(doc, "instanceUid", where),
    csrPem: expectString(doc, "csrPem", where),
    requestedAt,
  };
}
