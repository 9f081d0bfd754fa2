/**
 * The supervisor's JSON log (pino, stdout, journald-friendly). Secrets are kept out in
 * three ways: known secret-bearing fields are censored, headers are logged by name only,
 * and every finished line passes the secret masker (mask.ts), which catches configured
 * values wherever they appear (an error message, a collector log tail).
 */
import { pino } from "pino";
import type { DestinationStream } from "pino";
import type { Logger } from "../deps.js";
import type { SecretMasker } from "./mask.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const REDACTED_PATHS = [
  "headers",
  "*.headers",
  "authorization",
  "*.authorization",
  "privateKey",
  "*.privateKey",
  "private_key",
  "*.private_key",
  "key",
  "*.key",
  "keyPem",
  "*.keyPem",
  "password",
  "*.password",
  "token",
  "*.token",
];

export function createLogger(level: LogLevel, destination?: DestinationStream, masker?: SecretMasker): Logger {
  const options = {
    level,
    base: { name: "opamp-supervisor" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"info" as the collector's own JSON logs say it, not pino's 30.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    // A masker that is empty now may learn secrets later (offered headers): hooked whenever given.
    ...(masker ? { hooks: { streamWrite: (line: string) => masker.mask(line) } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Header names without values: enough to debug, nothing to leak. */
export function headerNames(headers: Readonly<Record<string, string>>): string[] {
  return Object.keys(headers).sort();
}
