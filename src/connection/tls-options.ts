/**
 * TLS settings for the OpAMP connection, turned into Node TLS options. Files are read at
 * every connect so a certificate rotated on disk is used by the next connection. The client
 * pair is checked first (parses, inside its validity period, key matches), so a bad pair
 * fails with the file and the reason instead of OpenSSL's "key values mismatch".
 */
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import type { ConnectionOptions } from "node:tls";
import { ConfigError } from "../errors.js";
import { checkCertificate, parseBundle } from "./certificate.js";

export interface TlsSettings {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** PEM text, used instead of the matching file when given. */
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  minVersion?: "TLSv1.2" | "TLSv1.3";
  maxVersion?: "TLSv1.2" | "TLSv1.3";
  /** Trust the system CA roots as well as caPem/caFile (`include_system_ca_certs_pool`). */
  systemRoots?: boolean;
  serverName?: string;
  /** Skips server certificate verification. Only ever true when the operator said so. */
  insecureSkipVerify?: boolean;
  /** Names the client certificate in errors when it is PEM text, e.g. "the offered certificate 1a2b…". */
  certLabel?: string;
}

export async function buildTlsOptions(
  settings: TlsSettings | undefined,
  now: number = Date.now(),
): Promise<ConnectionOptions> {
  if (!settings) return { rejectUnauthorized: true };
  const options: ConnectionOptions = {};
  const ca = settings.caPem ?? (settings.caFile ? await readPem(settings.caFile, "ca_file") : undefined);
  const cert = settings.certPem ?? (settings.certFile ? await readPem(settings.certFile, "cert_file") : undefined);
  const key = settings.keyPem ?? (settings.keyFile ? await readPem(settings.keyFile, "key_file") : undefined);
  if (ca !== undefined) {
    const parsed = parseBundle(ca);
    if (typeof parsed === "string")
      throw new ConfigError(settings.caFile ?? "server.tls", [`${caLabel(settings)}: ${parsed}`]);
    // Node trusts either the given CA or its roots; the Go key asks for both.
    options.ca = settings.systemRoots ? [...rootCertificates, ca] : ca;
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("server.tls", ["cert_file and key_file must be given together"]);
  }
  if (cert !== undefined && key !== undefined) {
    const check = checkCertificate({ certPem: cert, keyPem: key, now, label: certLabel(settings) });
    if (!check.ok)
      throw new ConfigError(settings.certPem === undefined && settings.certFile ? settings.certFile : "server.tls", [
        check.message,
      ]);
    options.cert = cert;
    options.key = key;
  }
  if (settings.minVersion) options.minVersion = settings.minVersion;
  if (settings.maxVersion) options.maxVersion = settings.maxVersion;
  if (settings.serverName) options.servername = settings.serverName;
  // Explicit either way: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment must not switch
  // verification off behind the operator's back.
  options.rejectUnauthorized = settings.insecureSkipVerify !== true;
  return options;
}

/** "server.tls.ca_file /etc/ca.pem", "the configured CA" or "the system CA roots". */
export function caLabel(settings: TlsSettings | undefined): string {
  if (settings?.caPem !== undefined) return "the configured CA (server.tls.ca_pem)";
  if (settings?.caFile) return `server.tls.ca_file ${settings.caFile}`;
  return "the system CA roots";
}

/** Names the client certificate in messages. */
export function certLabel(settings: TlsSettings | undefined): string {
  if (settings?.certPem !== undefined) return settings.certLabel ?? "the client certificate (server.tls.cert_pem)";
  if (settings?.certFile) return `server.tls.cert_file ${settings.certFile} with key_file ${settings.keyFile ?? "?"}`;
  return "no client certificate";
}

async function readPem(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(path, [`server.tls.${key}: cannot read (${reason})`], { cause: err });
  }
}
