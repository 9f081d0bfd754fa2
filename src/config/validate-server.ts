/** The `server` section of supervisor.yaml: endpoint, headers, heartbeat interval, TLS. */
import * as path from "node:path";
import { endpointScheme, isSecureEndpoint } from "../opamp/endpoint.js";
import { Checker, EXPANSION_FAILED, UNSUPPORTED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import {
  DEFAULTS,
  TLS_DEFAULTS,
  type ResolvedServer,
  type ResolvedTls,
  type ServerTransport,
  type TlsMaxVersion,
  type TlsMinVersion,
  type TlsVersion,
} from "./schema.js";
import { buildAuth } from "./validate-auth.js";
import { NO_EFFECT } from "./validate-compat.js";

const TLS_HINTS = { tpm: `${UNSUPPORTED} (keys in a TPM are not supported: use key_file or key_pem)` };
const TLS_KEYS = [
  "insecure",
  "insecure_skip_verify",
  "ca_file",
  "cert_file",
  "key_file",
  "ca_pem",
  "cert_pem",
  "key_pem",
  "min_version",
  "max_version",
  "cipher_suites",
  "curve_preferences",
  "include_system_ca_certs_pool",
  "reload_interval",
  "server_name_override",
  "renew_before",
  "renew_check_interval",
  "renew_retry_interval",
  "watch_files",
  "connection_trial_timeout",
];
const TLS_VERSIONS: readonly TlsVersion[] = ["1.0", "1.1", "1.2", "1.3"];
/** renew_before is compared with certificate lifetimes, never slept on, so it may exceed the timer cap. */
const MAX_RENEW_BEFORE_MS = 10 * 365 * 24 * 3_600_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `extensions`: the top-level map that server.auth points into. */
export function buildServer(value: unknown, extensions: unknown, baseDir: string, check: Checker): ResolvedServer {
  const server = check.section(["server"], value, ["endpoint", "headers", "tls", "heartbeat_interval", "auth"]);
  let endpoint = "";
  let transport: ServerTransport = "websocket";
  if (value !== undefined && value !== null) {
    const text = check.string(["server", "endpoint"], server.endpoint, null, { required: true, nonEmpty: true });
    if (text !== null) {
      const parsed = checkEndpoint(text);
      if (typeof parsed === "string") check.report(["server", "endpoint"], parsed);
      else [endpoint, transport] = [text, parsed.transport];
    }
  }
  const headers = buildHeaders(server.headers, check);
  const secure = isSecureEndpoint(endpoint);
  // 0 switches WebSocket heartbeats off; plain HTTP then still polls at the default.
  const heartbeatIntervalMs = check.duration(
    ["server", "heartbeat_interval"],
    server.heartbeat_interval,
    DEFAULTS.heartbeatIntervalMs,
  );
  const tls = buildTls(server.tls, baseDir, secure, check);
  return {
    endpoint,
    transport,
    headers,
    heartbeatIntervalMs,
    tls,
    auth: buildAuth(server.auth, extensions, baseDir, check),
  };
}

function checkEndpoint(text: string): string | { transport: ServerTransport } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a ws://, wss://, http:// or https:// URL, got ${JSON.stringify(text)}`;
  }
  const scheme = endpointScheme(url);
  if (!scheme) return `expected a ws, wss, http or https URL, got scheme "${url.protocol.slice(0, -1)}"`;
  if (url.hostname === "") return `expected a URL with a host, got ${JSON.stringify(text)}`;
  if (url.username !== "" || url.password !== "") {
    return "credentials in the URL are not allowed (they would end up in logs); use server.headers";
  }
  return { transport: scheme.transport === "ws" ? "websocket" : "http" };
}

/** Header values: a string, or a list of strings (joined with ", " as HTTP does). Never echoed. */
function buildHeaders(value: unknown, check: Checker): Record<string, string> {
  const where: KeyPath = ["server", "headers"];
  const headers: Record<string, string> = {};
  if (value === undefined || value === null || value === EXPANSION_FAILED) return headers;
  if (!isPlainMap(value)) {
    check.report(where, `expected a map of header name to value, got ${describe(value)}`);
    return headers;
  }
  for (const [name, item] of Object.entries(value)) {
    const at: KeyPath = [...where, name];
    if (!HEADER_NAME.test(name)) {
      check.report(at, "invalid header name (expected letters, digits and !#$%&'*+-.^_`|~)");
      continue;
    }
    let text: string | null = null;
    if (Array.isArray(item)) {
      const parts = check.stringList(at, item, { secret: true });
      if (item.length === 0) check.report(at, "expected a string or a non-empty list of strings, got an empty list");
      else if (parts.length === item.length) text = parts.join(", ");
    } else {
      text = check.string(at, item, null, { secret: true });
    }
    if (text === null) continue;
    if (/[\r\n\0]/.test(text)) check.report(at, "header value must not contain CR, LF or NUL");
    else setOwn(headers, name, text);
  }
  return headers;
}

/**
 * TLS follows the endpoint scheme: these settings apply to wss:// and https:// only, and a
 * secure endpoint never runs without verification unless insecure_skip_verify says so.
 */
function buildTls(value: unknown, baseDir: string, secure: boolean, check: Checker): ResolvedTls {
  const at = (key: string): KeyPath => ["server", "tls", key];
  const tls = check.section(["server", "tls"], value, TLS_KEYS, TLS_HINTS);
  const given = (key: string): boolean => tls[key] !== undefined && tls[key] !== null;
  const file = (key: string): string | null => {
    const text = check.string(at(key), tls[key], null, { nonEmpty: true, nullIsAbsent: true });
    return text === null ? null : path.resolve(baseDir, text);
  };
  const pem = (key: string, block: RegExp, secret: boolean): string | null => {
    const text = check.string(at(key), tls[key], null, { nonEmpty: true, nullIsAbsent: true, secret });
    if (text !== null && !block.test(text)) {
      check.report(
        at(key),
        `expected PEM text (a -----BEGIN ...----- block)${secret ? "" : `, got ${describe(text)}`}`,
      );
      return null;
    }
    return text;
  };
  const insecure = check.boolean(at("insecure"), tls.insecure, false);
  const insecureSkipVerify = check.boolean(at("insecure_skip_verify"), tls.insecure_skip_verify, false);
  if (insecure && secure) {
    check.report(
      at("insecure"),
      "true asks for no TLS, but the endpoint is wss:// or https://; use a ws:// or http:// endpoint for plaintext, or remove it",
    );
  }
  for (const kind of ["ca", "cert", "key"]) {
    if (given(`${kind}_file`) && given(`${kind}_pem`))
      check.report(["server", "tls"], `${kind}_file and ${kind}_pem are alternatives; give one`);
  }
  if ((given("cert_file") || given("cert_pem")) !== (given("key_file") || given("key_pem"))) {
    check.report(["server", "tls"], "cert_file and key_file must be given together");
  }
  const duration = (key: string, fallback: number, options: { positive?: boolean; maxMs?: number } = {}): number =>
    check.duration(at(key), tls[key], fallback, options);
  if (given("reload_interval")) {
    duration("reload_interval", 0);
    check.warn(
      at("reload_interval"),
      `${NO_EFFECT} (cert_file, key_file and ca_file are watched instead: server.tls.watch_files)`,
    );
  }
  const resolved: ResolvedTls = {
    insecure,
    insecureSkipVerify,
    caFile: file("ca_file"),
    certFile: file("cert_file"),
    keyFile: file("key_file"),
    caPem: pem("ca_pem", /-----BEGIN CERTIFICATE-----/, false),
    certPem: pem("cert_pem", /-----BEGIN CERTIFICATE-----/, false),
    keyPem: pem("key_pem", /-----BEGIN [A-Z ]*PRIVATE KEY-----/, true),
    minVersion: minVersion(tls.min_version, check),
    maxVersion: maxVersion(tls.max_version, check),
    cipherSuites: ignoredList("cipher_suites", tls.cipher_suites, "Node's (OpenSSL's) cipher suites are used", check),
    curvePreferences: ignoredList(
      "curve_preferences",
      tls.curve_preferences,
      "Node's (OpenSSL's) curves are used",
      check,
    ),
    includeSystemCaCertsPool: systemPool(tls.include_system_ca_certs_pool, check),
    serverNameOverride: check.string(at("server_name_override"), tls.server_name_override, null, {
      nonEmpty: true,
      nullIsAbsent: true,
    }),
    renewBeforeMs: duration("renew_before", TLS_DEFAULTS.renewBeforeMs, { maxMs: MAX_RENEW_BEFORE_MS }),
    renewCheckIntervalMs: duration("renew_check_interval", TLS_DEFAULTS.renewCheckIntervalMs, { positive: true }),
    renewRetryIntervalMs: duration("renew_retry_interval", TLS_DEFAULTS.renewRetryIntervalMs, { positive: true }),
    watchFiles: check.boolean(at("watch_files"), tls.watch_files, TLS_DEFAULTS.watchFiles),
    connectionTrialTimeoutMs: duration("connection_trial_timeout", TLS_DEFAULTS.connectionTrialTimeoutMs, {
      positive: true,
    }),
  };
  if (resolved.maxVersion === "1.2" && resolved.minVersion === "1.3") {
    check.report(at("max_version"), `"1.2" is below min_version "1.3": no connection could be made`);
  }
  return resolved;
}

/** "1.2", or the number 1.2 YAML makes of it unquoted. */
function tlsVersion(path: KeyPath, value: unknown, check: Checker): TlsVersion | null {
  if (value === undefined || value === null || value === EXPANSION_FAILED || value === "") return null;
  const text = typeof value === "number" ? value.toFixed(1) : value;
  const found = TLS_VERSIONS.find((version) => version === text);
  if (found !== undefined) return found;
  check.report(
    path,
    `expected one of ${TLS_VERSIONS.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(value)}`,
  );
  return null;
}

/** TLS 1.0 and 1.1 are accepted (Go does) but never used: this supervisor's floor is 1.2. */
function minVersion(value: unknown, check: Checker): TlsMinVersion {
  const path: KeyPath = ["server", "tls", "min_version"];
  const version = tlsVersion(path, value, check);
  if (version === "1.3") return "1.3";
  if (version === "1.0" || version === "1.1") {
    check.warn(path, `"${version}" is raised to "1.2": this supervisor never connects with TLS below 1.2`);
  }
  return DEFAULTS.tlsMinVersion;
}

function ignoredList(key: string, value: unknown, instead: string, check: Checker): string[] {
  const list = check.stringList(["server", "tls", key], value, { nonEmptyItems: true });
  if (list.length > 0) check.warn(["server", "tls", key], `${NO_EFFECT} (${instead})`);
  return list;
}

/** Without a CA of its own the system roots are what is trusted anyway; with one, both are. */
function systemPool(value: unknown, check: Checker): boolean {
  return check.boolean(["server", "tls", "include_system_ca_certs_pool"], value, false);
}

/** 1.0 and 1.1 are raised to 1.2 like min_version: the floor here is 1.2. */
function maxVersion(value: unknown, check: Checker): TlsMaxVersion | null {
  const path: KeyPath = ["server", "tls", "max_version"];
  const version = tlsVersion(path, value, check);
  if (version === null) return null;
  if (version === "1.0" || version === "1.1")
    check.warn(path, `"${version}" is raised to "1.2": this supervisor never connects with TLS below 1.2`);
  return version === "1.3" ? "1.3" : "1.2";
}
