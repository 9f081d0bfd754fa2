import { ConfigError } from "../../src/errors.js";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import type { Env } from "../../src/config/expand.js";
import type { ResolvedConfig } from "../../src/config/schema.js";

export const CONFIG_PATH = "/etc/otelcol/supervisor.yaml";

export const MINIMAL = `
server:
  endpoint: ws://127.0.0.1:4320/v1/opamp
agent:
  executable: /usr/bin/otelcol
`;

export function resolve(text: string, env: Env = {}): ResolvedConfig {
  return resolveSupervisorConfig(text, CONFIG_PATH, env);
}

/** The ConfigError thrown for `text`; fails the test when none is thrown. */
export function configError(text: string, env: Env = {}): ConfigError {
  try {
    resolve(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

/** `MINIMAL` plus extra YAML appended under the given top-level section lines. */
export function withAgent(lines: string): string {
  return MINIMAL.replace("agent:\n", `agent:\n${indent(lines)}`);
}

function indent(lines: string): string {
  return lines
    .trim()
    .split("\n")
    .map((line) => `  ${line}\n`)
    .join("");
}
