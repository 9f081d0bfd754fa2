/**
 * `agent.package` of supervisor.yaml: archive format, trusted Ed25519 keys, download caps and
 * timeouts. Also the start-up rule that packages are never accepted without a trusted key
 * unless the operator says so in words nobody types by accident.
 */
import * as path from "node:path";
import { Checker, EXPANSION_FAILED, describe, isPlainMap, type KeyPath } from "./check.js";
import { DEFAULTS, type PackageArchive, type ResolvedCapabilities, type ResolvedPackage } from "./schema.js";

export const PACKAGE_KEYS = [
  "archive",
  "agent_binary",
  "verifier",
  "max_size",
  "download_timeout",
  "download_idle_timeout",
  "download_attempts",
  "max_redirects",
  "progress_interval",
] as const;
const VERIFIER_KEYS = [
  "type",
  "public_keys",
  "insecure_accept_unsigned_packages",
  "github_workflow_repository",
  "identities",
];
const COSIGN_KEYS = ["github_workflow_repository", "identities"];
/** "" is the Go supervisor's "no verifier"; cosign its planned one (accepted only while packages are off). */
const VERIFIER_TYPES = ["ed25519", "", "cosign"];
const ARCHIVES: readonly string[] = ["raw", "tar.gz", ""];
const at = (...keys: (string | number)[]): KeyPath => ["agent", "package", ...keys];

/** `acceptsPackages`: capabilities.accepts_packages, which decides whether a Go-only verifier is an error. */
export function buildPackage(value: unknown, check: Checker, acceptsPackages = false): ResolvedPackage {
  const pkg = check.section(["agent", "package"], value, PACKAGE_KEYS);
  const defaults = DEFAULTS.package;
  // "" is the official Go supervisor's spelling of a raw binary.
  const archiveText = check.oneOf(at("archive"), pkg.archive, defaults.archive, ARCHIVES);
  const archive: PackageArchive = archiveText === "tar.gz" ? "tar.gz" : "raw";
  const agentBinary = buildAgentBinary(pkg.agent_binary, archive, check);
  const verifier = check.section(at("verifier"), pkg.verifier, VERIFIER_KEYS);
  const type = check.oneOf(at("verifier", "type"), verifier.type, "ed25519", VERIFIER_TYPES);
  for (const key of COSIGN_KEYS) {
    if (verifier[key] !== undefined && type !== "cosign")
      check.report(at("verifier", key), 'is a cosign option: only with verifier.type "cosign"');
  }
  check.string(at("verifier", "github_workflow_repository"), verifier.github_workflow_repository, null, {
    nullIsAbsent: true,
  });
  if (
    verifier.identities !== undefined &&
    verifier.identities !== null &&
    !(Array.isArray(verifier.identities) && verifier.identities.every(isPlainMap))
  ) {
    check.report(
      at("verifier", "identities"),
      `expected a list of maps (issuer, subject, ...), got ${describe(verifier.identities)}`,
    );
  }
  if (type === "cosign") {
    const why =
      'cosign is the official Go supervisor\'s planned verifier; this supervisor checks Ed25519 signatures (verifier.type "ed25519" with public_keys)';
    if (acceptsPackages) check.report(at("verifier", "type"), `"cosign" is not supported: ${why}`);
    else
      check.warn(at("verifier", "type"), `"cosign" has no effect while capabilities.accepts_packages is off (${why})`);
  }
  return {
    archive,
    agentBinary,
    publicKeys: buildPublicKeys(verifier.public_keys, check),
    insecureAcceptUnsignedPackages: check.boolean(
      at("verifier", "insecure_accept_unsigned_packages"),
      verifier.insecure_accept_unsigned_packages,
      false,
    ),
    maxSizeBytes: readSize(at("max_size"), pkg.max_size, defaults.maxSizeBytes, check),
    downloadTimeoutMs: check.duration(at("download_timeout"), pkg.download_timeout, defaults.downloadTimeoutMs, {
      positive: true,
    }),
    downloadIdleTimeoutMs: check.duration(
      at("download_idle_timeout"),
      pkg.download_idle_timeout,
      defaults.downloadIdleTimeoutMs,
      {
        positive: true,
      },
    ),
    downloadAttempts: check.number(at("download_attempts"), pkg.download_attempts, defaults.downloadAttempts, {
      integer: true,
      min: 1,
      max: 100,
    }),
    maxRedirects: check.number(at("max_redirects"), pkg.max_redirects, defaults.maxRedirects, {
      integer: true,
      min: 0,
      max: 20,
    }),
    progressIntervalMs: check.duration(at("progress_interval"), pkg.progress_interval, defaults.progressIntervalMs, {
      positive: true,
    }),
  };
}

/**
 * With accepts_packages on, the supervisor replaces the collector binary with whatever the
 * server offers; without a trusted key that is whatever anyone who controls the server (or
 * the download URL) wants. So: a key, or an explicit, loudly named opt-out.
 */
export function checkPackageTrust(capabilities: ResolvedCapabilities, pkg: ResolvedPackage, check: Checker): void {
  if (pkg.publicKeys.length > 0 && pkg.insecureAcceptUnsignedPackages) {
    check.report(
      at("verifier", "insecure_accept_unsigned_packages"),
      "cannot be true while verifier.public_keys is set (signed packages would be checked, unsigned ones waved through); remove one of them",
    );
  }
  if (!capabilities.acceptsPackages || pkg.publicKeys.length > 0 || pkg.insecureAcceptUnsignedPackages) return;
  check.report(
    at("verifier", "public_keys"),
    "capabilities.accepts_packages is true but no trusted key is configured: add the base64 public key printed by " +
      '"opamp-supervisor package keygen", or set agent.package.verifier.insecure_accept_unsigned_packages: true to accept unsigned binaries',
  );
}

function buildAgentBinary(value: unknown, archive: PackageArchive, check: Checker): string | null {
  const text = check.string(at("agent_binary"), value, null, { nullIsAbsent: true, nonEmpty: true });
  if (text === null) {
    if (archive === "tar.gz")
      check.report(
        at("agent_binary"),
        'is required when archive is "tar.gz" (the path of the collector binary inside the archive)',
      );
    return null;
  }
  const normalized = path.posix.normalize(text.replace(/^\.\//, ""));
  if (path.posix.isAbsolute(text) || normalized.split("/").includes("..") || normalized === "." || text.endsWith("/")) {
    check.report(
      at("agent_binary"),
      `expected a relative file path inside the archive such as "otelcol-contrib", got ${JSON.stringify(text)}`,
    );
    return null;
  }
  return normalized;
}

function buildPublicKeys(value: unknown, check: Checker): string[] {
  const where = at("verifier", "public_keys");
  const out: string[] = [];
  check.stringList(where, value, { nonEmptyItems: true }).forEach((text, index) => {
    const key = decodePublicKey(text);
    if (key === null) {
      check.report(
        [...where, index],
        `expected the base64 of a 32-byte Ed25519 public key (44 characters), got ${describe(text)}`,
      );
      return;
    }
    if (out.includes(key)) {
      check.report([...where, index], "is listed more than once");
      return;
    }
    out.push(key);
  });
  return out;
}

/** Canonical base64 of a 32-byte key written as base64 (padding optional), or null. */
export function decodePublicKey(text: string): string | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed, "base64");
  return bytes.length === 32 ? bytes.toString("base64") : null;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/;
const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };

/** A byte count: an integer, or a string such as "512MiB", "1.5GiB", "800MB". */
export function parseSize(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : null;
  if (typeof value !== "string") return null;
  const match = SIZE.exec(value.trim());
  if (!match) return null;
  const bytes = Math.floor(Number(match[1]) * (UNITS[match[2] ?? "B"] ?? 1));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

function readSize(where: KeyPath, value: unknown, fallback: number, check: Checker): number {
  if (value === undefined || value === EXPANSION_FAILED) return fallback;
  const bytes = parseSize(value);
  if (bytes === null) {
    check.report(where, `expected a size greater than 0 such as 536870912, "512MiB" or "1GiB", got ${describe(value)}`);
    return fallback;
  }
  return bytes;
}
