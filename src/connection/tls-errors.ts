/**
 * Turns OpenSSL's handshake error codes into a sentence that names what to fix: which CA
 * did not verify the server, which client certificate the server refused and why.
 */
import type { TlsSettings } from "./tls-options.js";
import { caLabel, certLabel } from "./tls-options.js";

const SERVER_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
]);

/** Alerts a server sends when it does not accept our client certificate. */
const CLIENT_REJECTED: Readonly<Record<string, string>> = {
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "its issuer is not a CA the server trusts (wrong CA)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the server calls it a bad certificate",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the server says it has expired",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: "the server says it was revoked",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: "the server could not verify it",
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: "the server does not support its type",
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: "the server denied access",
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: "the server could not verify our handshake signature",
};

/** A readable explanation of a TLS failure, or undefined when `err` is not one. */
export function explainTlsError(err: unknown, endpoint: string, tls: TlsSettings | undefined): string | undefined {
  const code = errorCode(err);
  if (code === undefined) return undefined;
  if (SERVER_UNTRUSTED.has(code)) return `the server certificate does not chain to ${caLabel(tls)} (${code})`;
  if (code === "CERT_HAS_EXPIRED") return "the server certificate has expired";
  if (code === "CERT_NOT_YET_VALID") return "the server certificate is not valid yet";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `the server certificate is not valid for ${hostOf(endpoint)}; set server.tls.server_name_override if the name differs`;
  }
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED") {
    return tls?.certFile || tls?.certPem
      ? `the server did not accept ${certLabel(tls)}`
      : "the server requires a client certificate (server.tls.cert_file and key_file)";
  }
  const rejected = CLIENT_REJECTED[code];
  if (rejected) return `the server refused ${certLabel(tls)}: ${rejected}`;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER") return `${hostOf(endpoint)} does not speak TLS on this port`;
  if (/^ERR_SSL_.*ALERT/.test(code)) return `the server ended the TLS handshake (${code})`;
  return undefined;
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && (SERVER_UNTRUSTED.has(code) || /^(ERR_SSL_|ERR_TLS_|CERT_)/.test(code)))
      return code;
  }
  return undefined;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}
