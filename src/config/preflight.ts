/**
 * What a start checks on the host before it runs anything, so that `validate` judges a file
 * exactly as a start would: the collector binary, the state directory, the TLS files and the
 * files supervisor.yaml points at. Problems stop a start (exit 2); warnings are what a start
 * logs and carries on with (a missing agent.config_files entry is skipped, as Go does).
 * Nothing is created or changed here.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { isSecureEndpoint } from "../opamp/endpoint.js";
import { formatPath, type KeyPath } from "./check.js";
import { isConfigFileToken, type ResolvedConfig, type SecretSource } from "./schema.js";

export interface Preflight {
  problems: string[];
  warnings: string[];
}

const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

export async function preflight(config: ResolvedConfig): Promise<Preflight> {
  const result: Preflight = { problems: [], warnings: [] };
  const problem = (at: KeyPath, message: string): void => void result.problems.push(`${formatPath(at)}: ${message}`);
  const warning = (at: KeyPath, message: string): void => void result.warnings.push(`${formatPath(at)}: ${message}`);

  // In a sidecar agent.executable is a path in the collector's container, not in ours.
  const { run, sidecar } = config.agent;
  const [key, binary]: [KeyPath, string | null] =
    run === "sidecar"
      ? [["agent", "sidecar", "validate_executable"], sidecar.validateExecutable]
      : [["agent", "executable"], config.agent.executable];
  const executableProblem = binary === null ? null : await checkExecutable(binary);
  if (executableProblem !== null) problem(key, executableProblem);
  const storageProblem = await checkCreatableDirectory(config.storage.directory);
  if (storageProblem !== null) problem(["storage", "directory"], storageProblem);

  await Promise.all(
    config.agent.configFiles.map(async (entry, index) => {
      if (isConfigFileToken(entry)) return;
      const skipped = await checkCollectorConfig(entry);
      if (skipped !== null)
        warning(
          ["agent", "config_files", index],
          `${skipped}; the collector runs without it (the official Go supervisor skips it too)`,
        );
    }),
  );
  await Promise.all(
    config.agent.startupFallbackConfigs.map(async (file, index) => {
      const unreadable = await checkCollectorConfig(file);
      if (unreadable !== null) problem(["agent", "startup_fallback_configs", index], unreadable);
    }),
  );

  if (isSecureEndpoint(config.server.endpoint)) {
    const { caFile, certFile, keyFile } = config.server.tls;
    if (caFile !== null)
      await checkPem(caFile, "certificates", (at, m) => problem(["server", "tls", at], m), "ca_file");
    if (certFile !== null)
      await checkPem(certFile, "certificates", (at, m) => problem(["server", "tls", at], m), "cert_file");
    if (keyFile !== null) await checkPem(keyFile, "key", (at, m) => problem(["server", "tls", at], m), "key_file");
  }
  for (const [at, source] of authFiles(config)) {
    if (source.from !== "file") continue;
    await readFile(source.path).catch((err: unknown) => problem(at, `${source.path} cannot be read (${errno(err)})`));
  }
  return result;
}

async function checkExecutable(executable: string): Promise<string | null> {
  const hint = "set agent.executable to the collector binary, e.g. /usr/bin/otelcol-contrib";
  try {
    const info = await stat(executable);
    if (!info.isFile()) return `${executable} is not a file (${hint})`;
  } catch (err) {
    return `${executable} ${errno(err) === "ENOENT" ? "does not exist" : `cannot be read (${errno(err)})`} (${hint})`;
  }
  try {
    await access(executable, constants.X_OK);
    return null;
  } catch {
    return `${executable} is not executable (chmod +x it, or ${hint})`;
  }
}

/** The directory exists and is writable, or its nearest existing ancestor is (mkdir -p would work). */
async function checkCreatableDirectory(directory: string): Promise<string | null> {
  for (let dir = directory; ; dir = path.dirname(dir)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(dir)).isDirectory();
    } catch (err) {
      if ((errno(err) === "ENOENT" || errno(err) === "ENOTDIR") && path.dirname(dir) !== dir) continue;
      return `${directory} cannot be created (${dir}: ${errno(err)})`;
    }
    if (!isDirectory) return `${directory} cannot be created: ${dir} is not a directory`;
    try {
      await access(dir, constants.W_OK | constants.X_OK);
      return null;
    } catch {
      return dir === directory
        ? `${directory} is not writable by this user`
        : `${directory} cannot be created: ${dir} is not writable by this user`;
    }
  }
}

/** A collector config file: readable and a YAML map. Null when fine. */
async function checkCollectorConfig(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return `${file} cannot be read (${errno(err)})`;
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0)
    return `${file} is not valid YAML (${doc.errors[0]?.message.split("\n")[0] ?? "syntax error"})`;
  const value: unknown = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 1000 });
  if (value !== null && (typeof value !== "object" || Array.isArray(value)))
    return `${file} is not a map of collector settings`;
  return null;
}

async function checkPem(
  file: string,
  kind: "certificates" | "key",
  report: (key: string, message: string) => void,
  key: string,
): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    report(key, `${file} cannot be read (${errno(err)})`);
    return;
  }
  try {
    if (kind === "key") {
      createPrivateKey(text);
      return;
    }
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error("no PEM certificate in it");
    for (const block of blocks) new X509Certificate(block);
  } catch (err) {
    // The reason only: a key's text never goes into a message.
    const reason = kind === "key" ? "not a PEM private key" : err instanceof Error ? err.message : String(err);
    report(key, `${file} does not parse (${reason})`);
  }
}

function authFiles(config: ResolvedConfig): Array<[KeyPath, SecretSource]> {
  const auth = config.server.auth;
  if (auth === null) return [];
  const at = (key: string): KeyPath => ["extensions", auth.id, key];
  switch (auth.kind) {
    case "bearertokenauth":
      return [[at("filename"), auth.token]];
    case "basicauth":
      return [];
    case "oauth2client":
      return [
        [at("client_id_file"), auth.clientId],
        [at("client_secret_file"), auth.clientSecret],
      ];
  }
}
