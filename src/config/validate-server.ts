/** The `server` section of supervisor.yaml: endpoint, headers, heartbeat interval, TLS. */
import * as path from "node:path";
import { endpointScheme, isSecureEndpoint } from "../opamp/endpoint.js";
import { Checker, EXPANSION_FAILED, UNSUPPORTED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import { DEFAULTS, TLS_DEFAULTS, type ResolvedServer, type ResolvedTls, type ServerTransport } from "./schema.js";

const SERVER_HINTS = { auth: `${UNSUPPORTED} (put static credentials in server.headers)` };
const TLS_HINTS = {
  reload_interval: "not needed: cert_file, key_file and ca_file are watched (server.tls.watch_files); remove it",
  max_version: UNSUPPORTED,
  cipher_suites: UNSUPPORTED,
  include_system_ca_certs_pool: UNSUPPORTED,
};
const TLS_KEYS = [
  "insecure", "insecure_skip_verify", "ca_file", "cert_file", "key_file", "ca_pem", "cert_pem", "key_pem", "min_version",
  "server_name_override", "renew_before", "renew_check_interval", "renew_retry_interval", "watch_files",
  "connection_trial_timeout",
];
/** renew_before is compared with certificate lifetimes, never slept on, so it may exceed the timer cap. */
const MAX_RENEW_BEFORE_MS = 10 * 365 * 24 * 3_600_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function buildServer(value: unknown, baseDir: string, check: Checker): ResolvedServer {
  const server = check.section(["server"], value, ["endpoint", "headers", "tls", "heartbeat_interval"], SERVER_HINTS);
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
  const heartbeatIntervalMs = check.duration(["server", "heartbeat_interval"], server.heartbeat_interval, DEFAULTS.heartbeatIntervalMs);
  return { endpoint, transport, headers, heartbeatIntervalMs, tls: buildTls(server.tls, baseDir, secure, check) };
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
      check.report(at(key), `expected PEM text (a -----BEGIN ...----- block)${secret ? "" : `, got ${describe(text)}`}`);
      return null;
    }
    return text;
  };
  const insecure = check.boolean(at("insecure"), tls.insecure, false);
  const insecureSkipVerify = check.boolean(at("insecure_skip_verify"), tls.insecure_skip_verify, false);
  if (insecure && secure) {
    check.report(at("insecure"), "true asks for no TLS, but the endpoint is wss:// or https://; use a ws:// or http:// endpoint for plaintext, or remove it");
  }
  for (const kind of ["ca", "cert", "key"]) {
    if (given(`${kind}_file`) && given(`${kind}_pem`)) check.report(["server", "tls"], `${kind}_file and ${kind}_pem are alternatives; give one`);
  }
  if ((given("cert_file") || given("cert_pem")) !== (given("key_file") || given("key_pem"))) {
    check.report(["server", "tls"], "cert_file and key_file must be given together");
  }
  const duration = (key: string, fallback: number, options: { positive?: boolean; maxMs?: number } = {}): number =>
    check.duration(at(key), tls[key], fallback, options);
  return {
    insecure,
    insecureSkipVerify,
    caFile: file("ca_file"),
    certFile: file("cert_file"),
    keyFile: file("key_file"),
    caPem: pem("ca_pem", /-----BEGIN CERTIFICATE-----/, false),
    certPem: pem("cert_pem", /-----BEGIN CERTIFICATE-----/, false),
    keyPem: pem("key_pem", /-----BEGIN [A-Z ]*PRIVATE KEY-----/, true),
    minVersion: check.oneOf(at("min_version"), tls.min_version, DEFAULTS.tlsMinVersion, ["1.2", "1.3"]),
    serverNameOverride: check.string(at("server_name_override"), tls.server_name_override, null, {
      nonEmpty: true,
      nullIsAbsent: true,
    }),
    renewBeforeMs: duration("renew_before", TLS_DEFAULTS.renewBeforeMs, { maxMs: MAX_RENEW_BEFORE_MS }),
    renewCheckIntervalMs: duration("renew_check_interval", TLS_DEFAULTS.renewCheckIntervalMs, { positive: true }),
    renewRetryIntervalMs: duration("renew_retry_interval", TLS_DEFAULTS.renewRetryIntervalMs, { positive: true }),
    watchFiles: check.boolean(at("watch_files"), tls.watch_files, TLS_DEFAULTS.watchFiles),
    connectionTrialTimeoutMs: duration("connection_trial_timeout", TLS_DEFAULTS.connectionTrialTimeoutMs, { positive: true }),
  };
}
