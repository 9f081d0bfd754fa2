/**
 * TLS settings for the OpAMP connection, turned into Node TLS options. Files are read at
 * every connect so a certificate rotated on disk is used by the next connection.
 */
import { readFile } from "node:fs/promises";
import type { ConnectionOptions } from "node:tls";
import { ConfigError } from "../errors.js";

export interface TlsSettings {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** PEM text, used instead of the matching file when given. */
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  minVersion?: "TLSv1.2" | "TLSv1.3";
  serverName?: string;
  /** Skips server certificate verification. Only ever true when the operator said so. */
  insecureSkipVerify?: boolean;
}

export async function buildTlsOptions(settings: TlsSettings | undefined): Promise<ConnectionOptions> {
  if (!settings) return {};
  const options: ConnectionOptions = {};
  const ca = settings.caPem ?? (settings.caFile ? await readPem(settings.caFile, "ca_file") : undefined);
  const cert = settings.certPem ?? (settings.certFile ? await readPem(settings.certFile, "cert_file") : undefined);
  const key = settings.keyPem ?? (settings.keyFile ? await readPem(settings.keyFile, "key_file") : undefined);
  if (ca !== undefined) options.ca = ca;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("server.tls", ["cert_file and key_file must be given together"]);
  }
  if (cert !== undefined && key !== undefined) {
    options.cert = cert;
    options.key = key;
  }
  if (settings.minVersion) options.minVersion = settings.minVersion;
  if (settings.serverName) options.servername = settings.serverName;
  if (settings.insecureSkipVerify === true) options.rejectUnauthorized = false;
  return options;
}

async function readPem(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(path, [`server.tls.${key}: cannot read (${reason})`], { cause: err });
  }
}
