/**
 * The edge where supervisor.yaml becomes a ResolvedConfig: parse (with an alias cap), expand
 * ${VAR}, fill defaults, validate strictly, freeze. Every problem in the file is collected
 * into one ConfigError whose message starts with the file path.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { ConfigError } from "../errors.js";
import { Checker, describe, isPlainMap } from "./check.js";
import { expandDocument, type Env } from "./expand.js";
import { preflight } from "./preflight.js";
import type { ResolvedConfig } from "./schema.js";
import { buildConfig } from "./validate.js";

/** Alias resolutions allowed in supervisor.yaml; far above honest use, far below a "billion laughs". */
export const SUPERVISOR_MAX_ALIAS_COUNT = 50;

export interface LoadOptions {
  /** Variables for ${VAR} expansion; main passes process.env. */
  env: Env;
  /**
   * Also check the host as a start does (the executable, the state directory, TLS and
   * other referenced files; see preflight.ts). Default true; off for tools that only need
   * the keys (e.g. `package verify --config` on a signing machine).
   */
  checkHost?: boolean;
}

/**
 * Reads and resolves `configPath`, then checks the host as a start would. Rejects with
 * ConfigError (code CONFIG_INVALID); what a start only warns about is in `warnings`.
 */
export async function loadSupervisorConfig(configPath: string, options: LoadOptions): Promise<ResolvedConfig> {
  const absolute = path.resolve(configPath);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError(absolute, [`cannot read the file (${reason})`], { cause: err });
  }
  const config = resolveSupervisorConfig(text, absolute, options.env);
  if (options.checkHost === false) return config;
  const host = await preflight(config);
  if (host.problems.length > 0) throw new ConfigError(absolute, host.problems);
  return host.warnings.length === 0
    ? config
    : deepFreeze({ ...config, warnings: [...config.warnings, ...host.warnings] });
}

/**
 * Resolves supervisor.yaml `text` that was read from `configPath` (relative paths inside it
 * resolve against that file's directory). Throws ConfigError listing every problem.
 */
export function resolveSupervisorConfig(text: string, configPath: string, env: Env): ResolvedConfig {
  const sourcePath = path.resolve(configPath);
  const doc = parseDocument(text, { merge: true, prettyErrors: true, logLevel: "error" });
  if (doc.errors.length > 0) {
    // Later syntax errors are mostly echoes of the first; keep a few.
    const problems = doc.errors.slice(0, 3).map((e) => `invalid YAML: ${firstLine(e.message)}`);
    if (text.includes("${")) {
      problems.push('hint: inside [ ] or { } an unquoted ${VAR} is a syntax error; quote it ("${VAR}")');
    }
    throw new ConfigError(sourcePath, problems);
  }
  const files = { baseDir: path.dirname(sourcePath), read: (file: string) => readFileSync(file, "utf8") };
  const expansion = expandDocument(doc, env, files);
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: SUPERVISOR_MAX_ALIAS_COUNT });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(sourcePath, [`invalid YAML: ${reason} (too many alias references)`], { cause: err });
  }
  if (tree === null || tree === undefined) {
    throw new ConfigError(sourcePath, ["the file is empty (expected a map with at least server and agent)"]);
  }
  if (!isPlainMap(tree)) {
    throw new ConfigError(sourcePath, [`expected a map at the top level, got ${describe(tree)}`]);
  }
  const check = new Checker(expansion.rawStrings);
  for (const problem of expansion.problems) check.report(problem.path, problem.message);
  const config = buildConfig(tree, sourcePath, check);
  if (check.problems.length > 0) throw new ConfigError(sourcePath, check.problems);
  return deepFreeze(config);
}

/** yaml's pretty errors append a source excerpt after the first line; keep the first. */
function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/:$/, "");
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
