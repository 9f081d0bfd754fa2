/**
 * One HTTP(S) GET with bounded redirects, for package downloads. Resolves with the final
 * response (status 2xx or an error status) so the caller decides what it means. Offered
 * headers may be credentials: they are sent to the offer's origin only, never after a
 * redirect to another origin, and never logged. An https URL never redirects to http.
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply per hop, as for the OpAMP connection.
 */
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ConnectionOptions } from "node:tls";
import { proxyAgent } from "../connection/proxy.js";
import { endpointScheme } from "../opamp/endpoint.js";

export interface GetOptions {
  headers: Readonly<Record<string, string>>;
  maxRedirects: number;
  /** TLS options for an https URL (trust, client certificate); called per hop. */
  tlsFor: (url: URL) => Promise<ConnectionOptions>;
  /** Credentials for a hop (server.auth for the OpAMP server's own origin); called per hop. */
  authFor?: ((url: URL) => Promise<Record<string, string>>) | undefined;
  signal: AbortSignal;
  /** Called when the socket is assigned; the caller arms its idle watchdog on it. */
  onRequest?: (destroy: (err: Error) => void) => void;
}

export class GetError extends Error {
  /** True when trying again later may succeed (network trouble, 5xx, 408, 429). */
  readonly transient: boolean;

  constructor(message: string, transient: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.transient = transient;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TLS_TRUST_ERRORS =
  /^(?:ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|CERT_REVOKED)$/;

/** GETs `url` following redirects. The caller consumes or destroys the returned response. */
export async function httpGet(
  url: URL,
  extraHeaders: Readonly<Record<string, string>>,
  options: GetOptions,
): Promise<{ res: IncomingMessage; url: URL }> {
  let current = url;
  let sendOffered = true;
  for (let hop = 0; ; hop++) {
    const offered = sendOffered ? options.headers : {};
    // The offer's own headers win over the connection's credentials: they are meant for this file.
    const auth = Object.entries(options.authFor ? await options.authFor(current) : {}).filter(
      ([k]) => !Object.keys(offered).some((o) => o.toLowerCase() === k.toLowerCase()),
    );
    const headers: Record<string, string> = {
      ...Object.fromEntries(auth),
      ...offered,
      ...extraHeaders,
      "accept-encoding": "identity",
    };
    const res = await once(current, headers, options);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return { res, url: current };
    res.resume();
    if (hop >= options.maxRedirects)
      throw new GetError(`too many redirects (more than ${options.maxRedirects})`, false);
    let next: URL;
    try {
      next = new URL(location, current);
    } catch (err) {
      throw new GetError(`the server redirected to an invalid URL`, false, { cause: err });
    }
    const scheme = endpointScheme(next);
    if (scheme?.transport !== "http") throw new GetError(`redirect to an unsupported scheme ${next.protocol}`, false);
    if (endpointScheme(current)?.secure && !scheme.secure)
      throw new GetError("refusing a redirect from https to http", false);
    if (next.origin !== url.origin) sendOffered = false;
    current = next;
  }
}

async function once(url: URL, headers: Record<string, string>, options: GetOptions): Promise<IncomingMessage> {
  const scheme = endpointScheme(url);
  if (scheme?.transport !== "http") throw new GetError(`unsupported download URL scheme ${url.protocol}`, false);
  const tls = scheme.secure ? await options.tlsFor(url) : {};
  const send = scheme.secure ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    // No pooling (agent: false) unless a proxy carries the request; its agent takes the TLS options per request.
    const req = send(url, { method: "GET", headers, agent: proxyAgent(url) ?? false, signal: options.signal, ...tls });
    options.onRequest?.((err) => req.destroy(err));
    req.once("response", resolve);
    req.once("error", (err: NodeJS.ErrnoException) => {
      if (options.signal.aborted) reject(err);
      // Trying again will not make an untrusted certificate trusted.
      else if (TLS_TRUST_ERRORS.test(err.code ?? ""))
        reject(new GetError(`TLS: ${err.message} (${err.code})`, false, { cause: err }));
      else reject(new GetError(`request failed: ${err.message}`, true, { cause: err }));
    });
    req.end();
  });
}

/** Whether an HTTP error status is worth another attempt. */
export function transientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
