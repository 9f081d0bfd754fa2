/**
 * `server.auth` and the top-level `extensions` map, in the official Go supervisor's shape.
 * Every extension listed is checked (Go starts them all); the one `server.auth` names becomes
 * the typed AuthSettings. Relative file paths resolve against supervisor.yaml's directory.
 * Secret values are never echoed in problems.
 */
import * as path from "node:path";
import { Checker, EXPANSION_FAILED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import {
  AUTH_KINDS,
  OAUTH2_DEFAULT_EXPIRY_BUFFER_MS,
  type AuthClientTls,
  type AuthKind,
  type AuthSettings,
  type SecretSource,
} from "./schema-auth.js";

const BEARER_KEYS = ["scheme", "token", "tokens", "filename", "header"];
const BASIC_KEYS = ["client_auth", "htpasswd"];
const OAUTH2_KEYS = [
  "client_id",
  "client_id_file",
  "client_secret",
  "client_secret_file",
  "token_url",
  "scopes",
  "endpoint_params",
  "tls",
  "timeout",
  "expiry_buffer",
];
const OAUTH2_TLS_KEYS = [
  "insecure",
  "insecure_skip_verify",
  "ca_file",
  "cert_file",
  "key_file",
  "server_name_override",
  "min_version",
];

export function buildAuth(
  authValue: unknown,
  extensionsValue: unknown,
  baseDir: string,
  check: Checker,
): AuthSettings | null {
  const extensions = check.section(
    ["extensions"],
    extensionsValue,
    Object.keys(isPlainMap(extensionsValue) ? extensionsValue : {}),
  );
  const built = new Map<string, AuthSettings | null>();
  for (const [id, settings] of Object.entries(extensions)) built.set(id, buildExtension(id, settings, baseDir, check));

  const id = authId(authValue, check);
  if (id === null) {
    if (built.size > 0) check.warn(["extensions"], "not used: server.auth names none of them");
    return null;
  }
  if (!built.has(id)) {
    const known = built.size > 0 ? `; defined: ${[...built.keys()].join(", ")}` : "";
    check.report(
      ["server", "auth"],
      `names extension ${JSON.stringify(id)}, which is not defined under the top-level extensions${known}`,
    );
    return null;
  }
  const auth = built.get(id) ?? null;
  if (auth?.kind === "basicauth" && auth.username === "" && auth.password === "") {
    check.report(
      ["extensions", id, "client_auth"],
      "is required when server.auth uses basicauth (htpasswd is for servers)",
    );
  }
  for (const other of built.keys()) {
    if (other !== id) check.warn(["extensions", other], "not used: server.auth names another extension");
  }
  return auth;
}

/** `server.auth: <id>`, or the collector's `{authenticator: <id>}` spelling. */
function authId(value: unknown, check: Checker): string | null {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return null;
  if (isPlainMap(value)) {
    const auth = check.section(["server", "auth"], value, ["authenticator"]);
    return check.string(["server", "auth", "authenticator"], auth.authenticator, null, {
      required: true,
      nonEmpty: true,
    });
  }
  return check.string(["server", "auth"], value, null, { nonEmpty: true });
}

function kindOf(id: string): AuthKind | undefined {
  const type = id.split("/")[0] ?? "";
  return AUTH_KINDS.find((kind) => kind === type);
}

function buildExtension(id: string, value: unknown, baseDir: string, check: Checker): AuthSettings | null {
  const at: KeyPath = ["extensions", id];
  const kind = kindOf(id);
  if (kind === undefined || !/^[^/]+(\/[^/]+)?$/.test(id)) {
    check.report(
      at,
      `unsupported extension (expected ${AUTH_KINDS.join(", ")}, optionally with a /name: the authenticators server.auth can use)`,
    );
    return null;
  }
  switch (kind) {
    case "bearertokenauth":
      return buildBearer(id, value, baseDir, check);
    case "basicauth":
      return buildBasic(id, value, check);
    case "oauth2client":
      return buildOAuth2(id, value, baseDir, check);
  }
}

function buildBearer(id: string, value: unknown, baseDir: string, check: Checker): AuthSettings | null {
  const at = (...keys: (string | number)[]): KeyPath => ["extensions", id, ...keys];
  const ext = check.section(at(), value, BEARER_KEYS);
  const header = check.string(at("header"), ext.header, "Authorization", { nonEmpty: true });
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) check.report(at("header"), "invalid header name");
  const scheme = check.string(at("scheme"), ext.scheme, "Bearer");
  const filename = check.string(at("filename"), ext.filename, null, { nonEmpty: true, nullIsAbsent: true });
  const token = check.string(at("token"), ext.token, null, { secret: true, nullIsAbsent: true });
  const tokens = check.stringList(at("tokens"), ext.tokens, { secret: true, nonEmptyItems: true });
  // The extension's own precedence: the file, then token, then the first of tokens.
  let source: SecretSource | null = null;
  if (filename !== null) source = { from: "file", path: path.resolve(baseDir, filename) };
  else if (token !== null && token !== "") source = { from: "value", value: token };
  else if (tokens[0] !== undefined) source = { from: "value", value: tokens[0] };
  if (source === null) {
    check.report(at(), "needs token, tokens or filename");
    return null;
  }
  return { kind: "bearertokenauth", id, header, scheme, token: source };
}

function buildBasic(id: string, value: unknown, check: Checker): AuthSettings {
  const at = (...keys: string[]): KeyPath => ["extensions", id, ...keys];
  const ext = check.section(at(), value, BASIC_KEYS);
  const client = check.section(at("client_auth"), ext.client_auth, ["username", "password"]);
  if (ext.htpasswd !== undefined && ext.htpasswd !== null && !isPlainMap(ext.htpasswd)) {
    check.report(at("htpasswd"), `expected a map, got ${describe(ext.htpasswd)}`);
  }
  return {
    kind: "basicauth",
    id,
    username: check.string(at("client_auth", "username"), client.username, "", { nullIsAbsent: true }),
    password: check.string(at("client_auth", "password"), client.password, "", { secret: true, nullIsAbsent: true }),
  };
}

function buildOAuth2(id: string, value: unknown, baseDir: string, check: Checker): AuthSettings | null {
  const at = (...keys: string[]): KeyPath => ["extensions", id, ...keys];
  const ext = check.section(at(), value, OAUTH2_KEYS);
  const secret = (key: string): SecretSource | null => {
    const inline = check.string(at(key), ext[key], null, { secret: true, nullIsAbsent: true });
    const file = check.string(at(`${key}_file`), ext[`${key}_file`], null, { nonEmpty: true, nullIsAbsent: true });
    if (file !== null) return { from: "file", path: path.resolve(baseDir, file) };
    if (inline !== null && inline !== "") return { from: "value", value: inline };
    check.report(at(), `needs ${key} or ${key}_file`);
    return null;
  };
  const clientId = secret("client_id");
  const clientSecret = secret("client_secret");
  const tokenUrl = check.string(at("token_url"), ext.token_url, null, { required: true, nonEmpty: true });
  if (tokenUrl !== null && !/^https?:\/\/[^/\s]+/i.test(tokenUrl)) {
    check.report(at("token_url"), `expected an http:// or https:// URL, got ${describe(tokenUrl)}`);
  }
  const timeout =
    ext.timeout === undefined || ext.timeout === null ? null : check.duration(at("timeout"), ext.timeout, 0);
  const result = {
    kind: "oauth2client" as const,
    id,
    tokenUrl: tokenUrl ?? "",
    scopes: check.stringList(at("scopes"), ext.scopes, { nonEmptyItems: true }),
    endpointParams: endpointParams(at("endpoint_params"), ext.endpoint_params, check),
    timeoutMs: timeout === 0 ? null : timeout,
    expiryBufferMs: check.duration(at("expiry_buffer"), ext.expiry_buffer, OAUTH2_DEFAULT_EXPIRY_BUFFER_MS),
    tls: oauth2Tls(at("tls"), ext.tls, baseDir, check),
  };
  if (clientId === null || clientSecret === null || tokenUrl === null) return null;
  return { ...result, clientId, clientSecret };
}

/** url.Values: a value is a string or a list of strings. */
function endpointParams(at: KeyPath, value: unknown, check: Checker): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (value === undefined || value === null || value === EXPANSION_FAILED) return out;
  if (!isPlainMap(value)) {
    check.report(at, `expected a map of parameter to value(s), got ${describe(value)}`);
    return out;
  }
  for (const [key, item] of Object.entries(value)) {
    const values = Array.isArray(item)
      ? check.stringList([...at, key], item, { secret: true })
      : [check.string([...at, key], item, null, { secret: true })];
    const present = values.filter((v): v is string => v !== null);
    if (present.length > 0) setOwn(out, key, present);
  }
  return out;
}

function oauth2Tls(at: KeyPath, value: unknown, baseDir: string, check: Checker): AuthClientTls {
  const tls = check.section(at, value, OAUTH2_TLS_KEYS);
  const file = (key: string): string | null => {
    const text = check.string([...at, key], tls[key], null, { nonEmpty: true, nullIsAbsent: true });
    return text === null ? null : path.resolve(baseDir, text);
  };
  check.boolean([...at, "insecure"], tls.insecure, false);
  check.oneOf([...at, "min_version"], tls.min_version, "1.2", ["1.2", "1.3"]);
  const result = {
    insecureSkipVerify: check.boolean([...at, "insecure_skip_verify"], tls.insecure_skip_verify, false),
    caFile: file("ca_file"),
    certFile: file("cert_file"),
    keyFile: file("key_file"),
    serverNameOverride: check.string([...at, "server_name_override"], tls.server_name_override, null, {
      nonEmpty: true,
      nullIsAbsent: true,
    }),
  };
  if ((result.certFile === null) !== (result.keyFile === null))
    check.report(at, "cert_file and key_file must be given together");
  return result;
}
