/**
 * TLS and credentials for package downloads. Downloads trust what the OpAMP connection trusts *now*: the
 * settings in force, which may be inline PEM, a certificate the server offered or a CSR
 * renewed, not only supervisor.yaml's files: its CA, minimum version and the operator's
 * skip-verify. The client certificate (and the server name override) go only to the host
 * the OpAMP connection talks to.
 */
import type { ConnectionOptions } from "node:tls";
import type { AuthHeaders } from "./auth.js";
import { buildTlsOptions } from "./tls-options.js";
import type { TlsSettings } from "./tls-options.js";

export async function downloadTls(
  target: { endpoint: string; tls?: TlsSettings | undefined },
  url: URL,
): Promise<ConnectionOptions> {
  const tls = target.tls ?? {};
  const settings: TlsSettings = { minVersion: tls.minVersion ?? "TLSv1.2" };
  if (tls.caPem !== undefined) settings.caPem = tls.caPem;
  else if (tls.caFile) settings.caFile = tls.caFile;
  if (tls.maxVersion) settings.maxVersion = tls.maxVersion;
  if (tls.systemRoots) settings.systemRoots = true;
  if (tls.insecureSkipVerify) settings.insecureSkipVerify = true;
  if (sameHost(target.endpoint, url)) {
    if (tls.certPem !== undefined) settings.certPem = tls.certPem;
    else if (tls.certFile) settings.certFile = tls.certFile;
    if (tls.keyPem !== undefined) settings.keyPem = tls.keyPem;
    else if (tls.keyFile) settings.keyFile = tls.keyFile;
    if (tls.serverName) settings.serverName = tls.serverName;
  }
  return buildTlsOptions(settings);
}

/**
 * server.auth's headers for a download from the OpAMP server's own origin (ws and wss count
 * as http and https); none for any other origin, so credentials never leave for a CDN.
 */
export async function downloadAuth(
  target: { endpoint: string; auth?: AuthHeaders | undefined },
  url: URL,
  signal: AbortSignal = AbortSignal.timeout(60_000),
): Promise<Record<string, string>> {
  if (!target.auth || !sameOrigin(target.endpoint, url)) return {};
  return target.auth.headers(signal);
}

function sameOrigin(endpoint: string, url: URL): boolean {
  try {
    return new URL(endpoint.replace(/^ws(s?):/i, "http$1:")).origin === url.origin;
  } catch {
    return false;
  }
}

function sameHost(endpoint: string, url: URL): boolean {
  try {
    return new URL(endpoint).hostname === url.hostname;
  } catch {
    return false;
  }
}
