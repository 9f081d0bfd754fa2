/**
 * `server.auth` and the top-level `extensions` of supervisor.yaml, in the official Go
 * supervisor's shape: `server.auth` names one entry of `extensions` (an id such as
 * `bearertokenauth` or `oauth2client/corp`), and that entry holds the collector
 * extension's own settings. Values here are secrets: never log them.
 */

/** A secret given inline or as a file to read (re-read at every connect by whoever applies it). */
export type SecretSource =
  { readonly from: "value"; readonly value: string } | { readonly from: "file"; readonly path: string };

/** The TLS settings of the connection to an OAuth2 token endpoint. */
export interface AuthClientTls {
  readonly insecureSkipVerify: boolean;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly serverNameOverride: string | null;
}

/** bearertokenauth: `<header>: <scheme> <token>` on every request (scheme "" sends the bare token). */
export interface BearerTokenAuth {
  readonly kind: "bearertokenauth";
  /** The extensions key, e.g. "bearertokenauth/corp". */
  readonly id: string;
  readonly header: string;
  readonly scheme: string;
  readonly token: SecretSource;
}

/** basicauth `client_auth`: `Authorization: Basic base64(username:password)`. */
export interface BasicAuth {
  readonly kind: "basicauth";
  readonly id: string;
  readonly username: string;
  readonly password: string;
}

/** oauth2client: the client-credentials grant; the access token goes out as a bearer token. */
export interface OAuth2ClientAuth {
  readonly kind: "oauth2client";
  readonly id: string;
  readonly clientId: SecretSource;
  readonly clientSecret: SecretSource;
  readonly tokenUrl: string;
  readonly scopes: readonly string[];
  /** Extra form parameters of the token request; a key may repeat. */
  readonly endpointParams: Readonly<Record<string, readonly string[]>>;
  /** Timeout of one token request; null: none. */
  readonly timeoutMs: number | null;
  /** Refresh this long before the token expires. */
  readonly expiryBufferMs: number;
  readonly tls: AuthClientTls;
}

export type AuthSettings = BearerTokenAuth | BasicAuth | OAuth2ClientAuth;
export type AuthKind = AuthSettings["kind"];
export const AUTH_KINDS: readonly AuthKind[] = ["bearertokenauth", "basicauth", "oauth2client"];

/** oauth2client's expiry_buffer default (the collector extension's). */
export const OAUTH2_DEFAULT_EXPIRY_BUFFER_MS = 5 * 60_000;
