/** The `server` section of supervisor.yaml: endpoint, headers, TLS. */
import * as path from "node:path";
import { Checker, EXPANSION_FAILED, UNSUPPORTED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import { DEFAULTS, type ResolvedServer, type ResolvedTls, type ServerTransport } from "./schema.js";

const SERVER_HINTS = { auth: `${UNSUPPORTED} (put static credentials in server.headers)` };
const TLS_HINTS = {
  ca_pem: "inline PEM is not supported; use ca_file",
  cert_pem: "inline PEM is not supported; use cert_file",
  key_pem: "inline PEM is not supported; use key_file",
};
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function buildServer(value: unknown, baseDir: string, check: Checker): ResolvedServer {
  const server = check.section(["server"], value, ["endpoint", "headers", "tls"], SERVER_HINTS);
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
  return { endpoint, transport, headers, tls: buildTls(server.tls, baseDir, check) };
}

function checkEndpoint(text: string): string | { transport: ServerTransport } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a ws://, wss://, http:// or https:// URL, got ${JSON.stringify(text)}`;
  }
  const scheme = url.protocol.slice(0, -1);
  if (!["ws", "wss", "http", "https"].includes(scheme)) {
    return `expected a ws, wss, http or https URL, got scheme "${scheme}"`;
  }
  if (url.hostname === "") return `expected a URL with a host, got ${JSON.stringify(text)}`;
  if (url.username !== "" || url.password !== "") {
    return "credentials in the URL are not allowed (they would end up in logs); use server.headers";
  }
  return { transport: scheme === "ws" || scheme === "wss" ? "websocket" : "http" };
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

function buildTls(value: unknown, baseDir: string, check: Checker): ResolvedTls {
  const at = (key: string): KeyPath => ["server", "tls", key];
  const tls = check.section(
    ["server", "tls"],
    value,
    ["insecure", "insecure_skip_verify", "ca_file", "cert_file", "key_file", "min_version", "server_name_override"],
    TLS_HINTS,
  );
  const file = (key: string): string | null => {
    const text = check.string(at(key), tls[key], null, { nonEmpty: true, nullIsAbsent: true });
    return text === null ? null : path.resolve(baseDir, text);
  };
  const insecure = check.boolean(at("insecure"), tls.insecure, false);
  const insecureSkipVerify = check.boolean(at("insecure_skip_verify"), tls.insecure_skip_verify, false);
  const caFile = file("ca_file");
  const certFile = file("cert_file");
  const keyFile = file("key_file");
  const given = (key: string): boolean => tls[key] !== undefined && tls[key] !== null;
  if (given("cert_file") !== given("key_file")) {
    check.report(["server", "tls"], "cert_file and key_file must be given together");
  }
  return {
    insecure,
    insecureSkipVerify,
    caFile,
    certFile,
    keyFile,
    minVersion: check.oneOf(at("min_version"), tls.min_version, DEFAULTS.tlsMinVersion, ["1.2", "1.3"]),
    serverNameOverride: check.string(at("server_name_override"), tls.server_name_override, null, {
      nonEmpty: true,
      nullIsAbsent: true,
    }),
  };
}
