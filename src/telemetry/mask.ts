/**
 * The one masking module: secret values the operator configured (agent.env values,
 * server.headers and telemetry exporter header values, credentials in the endpoint URL or an Authorization header, an
 * inline private key) are replaced by "[masked]" wherever text leaves the process: status
 * messages and health errors sent to the server, collector log tails inside them, and every
 * supervisor log line. Masking is by value, so a collector that prints an expanded
 * ${env:SECRET} in its own error text is masked too.
 */
import { telemetryExporters } from "../config/schema-telemetry.js";
import type { ResolvedConfig } from "../config/schema.js";

export const MASK = "[masked]";

/**
 * Values shorter than this are not masked: replacing "1" or "on" everywhere would destroy
 * every message, and a credential that short protects nothing anyway.
 */
export const MIN_SECRET_LENGTH = 4;

export interface SecretMasker {
  /** `text` with every secret value replaced by MASK. */
  mask(text: string): string;
  /** True when there is nothing to mask (mask is the identity). */
  readonly empty: boolean;
}

export const noMasking: SecretMasker = { mask: (text) => text, empty: true };

/** The secret values in a resolved supervisor configuration. */
export function secretsOf(
  config: Pick<ResolvedConfig, "agent" | "server"> & Partial<Pick<ResolvedConfig, "telemetry">>,
): string[] {
  // The supervisor's own OTLP exporters' headers (telemetry.*) carry API keys just as often.
  const exporterHeaders = config.telemetry ? telemetryExporters(config.telemetry).map((e) => e.headers) : [];
  const headers = [config.server.headers, ...exporterHeaders].flatMap((h) => Object.values(h));
  const secrets: string[] = [...Object.values(config.agent.env), ...headers];
  for (const value of headers) secrets.push(...credentialParts(value));
  if (config.server.tls.keyPem) secrets.push(config.server.tls.keyPem);
  return secrets;
}

/** "Bearer t" → t; "Basic b64" → b64, "user:password", "password". */
function credentialParts(header: string): string[] {
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match) return [];
  const [, scheme, token] = match as unknown as [string, string, string];
  const parts = [token];
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(token, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon >= 0) parts.push(decoded, decoded.slice(colon + 1));
  }
  return parts;
}

export function createMasker(secrets: Iterable<string>): SecretMasker {
  const values = secretValues(secrets);
  if (values.size === 0) return noMasking;
  const pattern = patternOf(values);
  return { mask: (text) => text.replace(pattern, MASK), empty: false };
}

/** A masker that learns secrets while it runs (headers the server offers for the collector's own telemetry). */
export interface GrowingMasker extends SecretMasker {
  add(secrets: Iterable<string>): void;
}

export function createGrowingMasker(secrets: Iterable<string>): GrowingMasker {
  const values = secretValues(secrets);
  let pattern = values.size > 0 ? patternOf(values) : undefined;
  return {
    mask: (text) => (pattern ? text.replace(pattern, MASK) : text),
    get empty() {
      return pattern === undefined;
    },
    add(more) {
      const before = values.size;
      for (const value of secretValues(more)) values.add(value);
      if (values.size !== before) pattern = patternOf(values);
    },
  };
}

function secretValues(secrets: Iterable<string>): Set<string> {
  const values = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    values.add(secret);
    // As it appears inside a JSON string (a log line, a JSON collector log).
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) values.add(escaped);
  }
  return values;
}

/** Longest first, so a secret that contains another is masked whole. */
function patternOf(values: ReadonlySet<string>): RegExp {
  return new RegExp(
    [...values]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "g",
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
