/**
 * Checks one offered TelemetryConnectionSettings before anything is written: an endpoint the
 * collector's OTLP/HTTP exporter can use, headers that are valid, certificate material that
 * is PEM. What the collector's exporter has no setting for is named, not silently dropped.
 */
import { buildHeaders } from "../connection/offer-policy.js";
import { looksLikePrivateKey, pemBlocks } from "../connection/pem.js";
import type { OfferedTelemetry } from "../opamp/domain.js";
import type { OwnTelemetrySignal } from "./own-telemetry.js";

export interface TelemetryPems {
  /** CAs to trust instead of the system roots. */
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export type CheckedTelemetryOffer =
  | {
      readonly ok: true;
      /** null: the server turned this signal off (an empty endpoint). */
      readonly destination: { readonly endpoint: string; readonly headers: Readonly<Record<string, string>> } | null;
      readonly pems: TelemetryPems;
      /** Offered fields the collector's exporter has no setting for. */
      readonly ignored: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

export function checkTelemetryOffer(signal: OwnTelemetrySignal, offered: OfferedTelemetry): CheckedTelemetryOffer {
  const refuse = (why: string): CheckedTelemetryOffer => ({ ok: false, reason: `own_${signal}: ${why}` });
  if (offered.endpoint === "") return { ok: true, destination: null, pems: {}, ignored: [] };
  let url: URL;
  try {
    url = new URL(offered.endpoint);
  } catch {
    return refuse(`the endpoint ${JSON.stringify(offered.endpoint)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return refuse(`the endpoint must be http:// or https:// (OTLP/HTTP), not ${url.protocol.slice(0, -1)}://`);
  if (url.hostname === "") return refuse("the endpoint has no host");
  // Credentials in a URL end up in log lines and in the reported effective config.
  if (url.username !== "" || url.password !== "")
    return refuse("the endpoint carries credentials in the URL; send them as headers");
  const headers = buildHeaders(offered.headers ?? []);
  if (typeof headers === "string") return refuse(headers);

  const ignored: string[] = [];
  if (offered.hasProxy) ignored.push("proxy (the collector takes its proxy from HTTPS_PROXY/HTTP_PROXY)");
  const tls = offered.tls;
  if (tls?.insecureSkipVerify) return refuse("tls.insecure_skip_verify is not supported for own telemetry");
  if (tls && (tls.minVersion !== "" || tls.maxVersion !== "" || tls.cipherSuites.length > 0))
    ignored.push("tls versions and cipher suites");
  const secure = url.protocol === "https:";
  const ca = [offered.certificate?.caPem ?? "", tls?.caPem ?? ""].filter((pem) => pem !== "").join("\n");
  const cert = offered.certificate?.certPem ?? "";
  const key = offered.certificate?.keyPem ?? "";
  if (!secure) {
    if (ca !== "" || cert !== "" || key !== "") ignored.push("certificates (the endpoint is plain http://)");
    return { ok: true, destination: { endpoint: offered.endpoint, headers }, pems: {}, ignored };
  }
  if (ca !== "" && pemBlocks(ca, "CERTIFICATE").length === 0) return refuse("the offered CA is not a PEM certificate");
  if ((cert === "") !== (key === "")) return refuse("a client certificate needs both the certificate and its key");
  if (cert !== "" && pemBlocks(cert, "CERTIFICATE").length === 0)
    return refuse("the offered client certificate is not a PEM certificate");
  if (key !== "" && !looksLikePrivateKey(key)) return refuse("the offered client key is not a PEM private key");
  return {
    ok: true,
    destination: { endpoint: offered.endpoint, headers },
    pems: { ca: ca || undefined, cert: cert || undefined, key: key || undefined },
    ignored,
  };
}
