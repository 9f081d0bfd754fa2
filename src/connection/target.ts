/**
 * The OpAMP client's connection target for a set of settings: endpoint, headers and TLS as
 * plain data, and `prepare`, which the client calls at every connect to build the Node TLS
 * options (files re-read, certificates checked), the headers and the proxy agent (the
 * environment is read at every connect too).
 */
import type { ConnectMaterial, ConnectionTarget } from "../opamp/client.js";
import { endpointScheme } from "../opamp/endpoint.js";
import type { AuthHeaders } from "./auth.js";
import { proxyAgent } from "./proxy.js";
import { explainTlsError } from "./tls-errors.js";
import { buildTlsOptions } from "./tls-options.js";
import type { TlsSettings } from "./tls-options.js";

/** A target whose settings can be read back (downloads reuse its trust). */
export interface ServerTarget extends ConnectionTarget {
  headers: Readonly<Record<string, string>>;
  tls: TlsSettings;
  /** server.auth's headers, for same-origin package downloads too. */
  auth: AuthHeaders | undefined;
}

export interface TargetDeps {
  now: () => number;
  /** server.auth: kept for every target, also for settings the server offers (as Go does). */
  auth?: AuthHeaders | undefined;
}

export function serverTarget(
  settings: { endpoint: string; headers: Readonly<Record<string, string>>; tls: TlsSettings },
  deps: TargetDeps,
): ServerTarget {
  const { endpoint, headers, tls } = settings;
  const auth = deps.auth;
  return {
    endpoint,
    headers,
    tls,
    auth,
    prepare: async (signal): Promise<ConnectMaterial> => ({
      // Built at every connect: a rotated token file or an expiring OAuth2 token is renewed here.
      headers: auth ? { ...headers, ...(await auth.headers(signal)) } : headers,
      tls: await buildTlsOptions(tls, deps.now()),
      // Plain HTTP polls reuse one kept-alive connection, through the proxy as well.
      agent: proxyAgent(endpoint, { keepAlive: endpointScheme(endpoint)?.transport === "http" }),
      explainTlsError: (err) => explainTlsError(err, endpoint, tls),
    }),
  };
}
