/**
 * Decides whether an OpAMP connection settings offer may be tried, before anything is
 * touched. Refuses offers that would weaken security (wss → ws, switching off server
 * verification, an older TLS version, a different trust store) and certificates that are
 * unusable (unparsable, outside their validity, wrong key, wrong CA). Pure: the caller
 * supplies the clock reading and the keys it holds.
 *
 * Absent parts of an offer keep what is in force (spec: "absent means unchanged"); in
 * particular an offer without `certificate` keeps the current client certificate, so an
 * offer that only moves the heartbeat cannot silently drop mTLS.
 */
import { endpointScheme, isSecureEndpoint } from "../opamp/endpoint.js";
import type { OfferedSettings } from "../opamp/domain.js";
import { checkCertificate, SYSTEM_ROOTS } from "./certificate.js";
import type { CertificateInfo, TrustAnchors } from "./certificate.js";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/** What the connection uses now, as far as the policy is concerned. */
export interface SettingsInForce {
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  minVersion: TlsVersion;
  insecureSkipVerify: boolean;
  /** The configured CA bundle; undefined means the system roots. */
  caPems: readonly string[] | undefined;
  /** Names that CA in messages, e.g. "server.tls.ca_file /etc/ca.pem". */
  caLabel: string;
  client: { certPem: string; keyPem: string } | undefined;
}

/** The opamp part of an offer, as the protocol client decoded it. */
export type { OfferedSettings };

export interface ClientCertificate {
  certPem: string;
  keyPem: string;
  /** The CA sent along with the certificate (informational; never a trust anchor for the server). */
  caPem: string;
  info: CertificateInfo;
  /** Where the private key came from. */
  keySource: "offer" | "csr" | "current";
}

export interface AcceptedOffer {
  ok: true;
  endpoint: string;
  headers: Record<string, string>;
  minVersion: TlsVersion;
  client: ClientCertificate | undefined;
  /** Whether the OpAMP connection must be re-established to apply this. */
  changed: boolean;
  /** Parts of the offer that were ignored, for the log. */
  ignored: string[];
}

export type OfferDecision = AcceptedOffer | { ok: false; reason: string };

export interface EvaluateOfferOptions {
  now: number;
  /** The private key of an outstanding CSR, paired with a certificate offered without a key. */
  pendingCsrKeyPem?: string | undefined;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function evaluateOffer(
  current: SettingsInForce,
  offer: OfferedSettings,
  options: EvaluateOfferOptions,
): OfferDecision {
  if (offer.hasProxy) return refuse("proxy settings are not supported by this supervisor");
  // The same endpoint spelled differently (case, default port) is not a move.
  const endpoint =
    offer.endpoint === "" || sameUrl(offer.endpoint, current.endpoint) ? current.endpoint : offer.endpoint;
  const endpointProblem = checkEndpoint(current.endpoint, endpoint);
  if (endpointProblem) return refuse(endpointProblem);

  const ignored: string[] = [];
  let minVersion = current.minVersion;
  if (offer.tls) {
    const tls = offer.tls;
    if (tls.insecureSkipVerify && !current.insecureSkipVerify) {
      return refuse(
        "refusing insecure_skip_verify: the server certificate is always verified unless the local configuration says otherwise",
      );
    }
    if (tls.caPem.trim() !== "" && !sameBundle(tls.caPem, current.caPems)) {
      return refuse(
        `refusing to replace the trusted CA (${current.caLabel}) by offer; change server.tls.ca_file locally`,
      );
    }
    if (tls.includeSystemCa && current.caPems !== undefined) {
      return refuse(`refusing to add the system CA pool to ${current.caLabel}: that would widen whom the agent trusts`);
    }
    const offered = parseTlsVersion(tls.minVersion);
    if (offered === "invalid")
      return refuse(`unsupported TLS min_version ${JSON.stringify(tls.minVersion)} (use 1.2 or 1.3)`);
    if (offered === "too-old") return refuse(`refusing TLS min_version ${tls.minVersion}: older than TLS 1.2`);
    if (offered !== undefined) {
      if (offered === "TLSv1.2" && current.minVersion === "TLSv1.3")
        return refuse("refusing to lower the TLS minimum version from 1.3 to 1.2");
      minVersion = offered;
    }
    if (tls.maxVersion !== "") ignored.push("tls.max_version");
    if (tls.cipherSuites.length > 0) ignored.push("tls.cipher_suites");
  }

  let headers: Record<string, string> = { ...current.headers };
  if (offer.headers) {
    const built = buildHeaders(offer.headers);
    if (typeof built === "string") return refuse(built);
    headers = built;
  }

  let client: ClientCertificate | undefined;
  if (offer.certificate) {
    if (!isSecureEndpoint(endpoint))
      return refuse(`a client certificate needs a wss:// or https:// endpoint, not ${scheme(endpoint)}://`);
    const checked = checkOfferedCertificate(current, offer.certificate, options);
    if (typeof checked === "string") return refuse(checked);
    client = checked;
  }

  const certificateChanged = client !== undefined && client.certPem !== current.client?.certPem;
  const changed =
    endpoint !== current.endpoint ||
    !sameHeaders(headers, current.headers) ||
    certificateChanged ||
    minVersion !== current.minVersion;
  return { ok: true, endpoint, headers, minVersion, client: client ?? undefined, changed, ignored };
}

function checkOfferedCertificate(
  current: SettingsInForce,
  offered: { certPem: string; keyPem: string; caPem: string },
  options: EvaluateOfferOptions,
): ClientCertificate | string {
  if (offered.certPem.trim() === "") return "the offered certificate is empty";
  const label = "offered certificate";
  const anchors: TrustAnchors[] = [];
  if (offered.caPem.trim() !== "") anchors.push({ pems: [offered.caPem], label: "the CA offered with it" });
  anchors.push(current.caPems ? { pems: current.caPems, label: current.caLabel } : SYSTEM_ROOTS);
  // Validity and chain first, without a key: those failures do not depend on which key we pair.
  const base = checkCertificate({ certPem: offered.certPem, now: options.now, anchors, label });
  if (!base.ok) return base.message;

  const keys: Array<{ pem: string; source: ClientCertificate["keySource"] }> = [];
  if (offered.keyPem.trim() !== "") keys.push({ pem: offered.keyPem, source: "offer" });
  else {
    if (options.pendingCsrKeyPem) keys.push({ pem: options.pendingCsrKeyPem, source: "csr" });
    if (current.client) keys.push({ pem: current.client.keyPem, source: "current" });
  }
  if (keys.length === 0) return `${label}: no private key was offered and no certificate request is outstanding`;
  let lastMessage = "";
  for (const key of keys) {
    const check = checkCertificate({ certPem: offered.certPem, keyPem: key.pem, now: options.now, label });
    if (check.ok)
      return {
        certPem: offered.certPem,
        keyPem: key.pem,
        caPem: offered.caPem,
        info: check.info,
        keySource: key.source,
      };
    lastMessage = check.message;
  }
  return offered.keyPem.trim() !== ""
    ? lastMessage
    : `${label}: matches neither the key of the outstanding certificate request nor the current key`;
}

/** Problems with moving from `from` to `to`, or undefined when the move is allowed. */
function checkEndpoint(from: string, to: string): string | undefined {
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    return `offered endpoint is not a URL`;
  }
  if (!endpointScheme(url)) return `offered endpoint has unsupported scheme ${url.protocol.slice(0, -1)}`;
  if (url.username !== "" || url.password !== "") return "offered endpoint carries credentials in the URL; refused";
  if (isSecureEndpoint(from) && !isSecureEndpoint(to)) {
    return `refusing to move from ${scheme(from)}:// to ${scheme(to)}://: that would drop TLS`;
  }
  return undefined;
}

/** Offered headers as a map (names compared case-insensitively, repeats joined), or why they are refused. */
export function buildHeaders(list: ReadonlyArray<{ key: string; value: string }>): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const { key, value } of list) {
    if (!HEADER_NAME.test(key)) return `offered header name ${JSON.stringify(key)} is not valid`;
    if (/[\r\n\0]/.test(value)) return `offered header ${key} has a value with CR, LF or NUL`;
    const existing = Object.entries(headers).find(([name]) => name.toLowerCase() === key.toLowerCase());
    if (existing) headers[existing[0]] = `${existing[1]}, ${value}`;
    else Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return headers;
}

/** undefined = not given; "too-old" = 1.0/1.1; "invalid" = unknown text. */
export function parseTlsVersion(text: string): TlsVersion | undefined | "too-old" | "invalid" {
  const t = text.trim().replace(/^TLSv?/i, "");
  if (t === "") return undefined;
  if (t === "1.2") return "TLSv1.2";
  if (t === "1.3") return "TLSv1.3";
  if (t === "1.0" || t === "1.1" || t === "1") return "too-old";
  return "invalid";
}

function scheme(endpoint: string): string {
  try {
    return new URL(endpoint).protocol.slice(0, -1);
  } catch {
    return "?";
  }
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

function sameBundle(pem: string, current: readonly string[] | undefined): boolean {
  if (current === undefined) return false;
  const norm = (s: string): string => s.replace(/\s+/g, "");
  return norm(pem) === norm(current.join(""));
}

function sameHeaders(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function refuse(reason: string): OfferDecision {
  return { ok: false, reason };
}
