/**
 * Credentials for the OpAMP connection from `server.auth` (the Go supervisor's auth
 * extensions), as headers built at every (re)connect: a token file is re-read, an OAuth2
 * token is fetched when there is none or it is inside its expiry buffer. Package downloads
 * from the OpAMP server's own origin get the same headers. Secrets never reach a log line
 * or an error message.
 */
import { readFile } from "node:fs/promises";
import type { ResolvedConfig } from "../config/schema.js";
import type { Clock } from "../deps.js";
import { ConfigError } from "../errors.js";
import { requestToken } from "./oauth2.js";
import type { OAuth2ClientAuth } from "./auth-settings.js";
import type { AuthSettings, SecretSource } from "./auth-settings.js";

export type { AuthSettings } from "./auth-settings.js";

/** server.auth as the config room resolved it. */
export function authOf(config: ResolvedConfig): AuthSettings | null {
  return config.server.auth;
}

export interface AuthHeaders {
  /** Headers for the next connect or same-origin download. */
  headers(signal: AbortSignal): Promise<Record<string, string>>;
}

export interface AuthDeps {
  clock: Clock;
}

export function authHeaders(settings: AuthSettings, deps: AuthDeps): AuthHeaders {
  switch (settings.kind) {
    case "bearertokenauth":
      return {
        headers: async () => {
          const token = await readSecret(settings.token, `extensions.${settings.id} token`);
          return { [settings.header]: settings.scheme === "" ? token : `${settings.scheme} ${token}` };
        },
      };
    case "basicauth": {
      const value = `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString("base64")}`;
      return { headers: () => Promise.resolve({ Authorization: value }) };
    }
    case "oauth2client":
      return new OAuth2Token(settings, deps);
  }
}

/** A client-credentials token, reused until it is inside its expiry buffer. */
class OAuth2Token implements AuthHeaders {
  #token: { header: string; refreshAt: number } | undefined;
  #pending: Promise<{ header: string; refreshAt: number }> | undefined;

  constructor(
    private readonly settings: OAuth2ClientAuth,
    private readonly deps: AuthDeps,
  ) {}

  async headers(signal: AbortSignal): Promise<Record<string, string>> {
    const now = this.deps.clock.now();
    if (!this.#token || now >= this.#token.refreshAt) {
      // One request at a time, however many connects and downloads ask at once.
      this.#pending ??= this.#fetch(signal).finally(() => (this.#pending = undefined));
      this.#token = await this.#pending;
    }
    return { Authorization: this.#token.header };
  }

  async #fetch(signal: AbortSignal): Promise<{ header: string; refreshAt: number }> {
    const s = this.settings;
    const [clientId, clientSecret] = await Promise.all([
      readSecret(s.clientId, `extensions.${s.id} client_id`),
      readSecret(s.clientSecret, `extensions.${s.id} client_secret`),
    ]);
    const fetchedAt = this.deps.clock.now();
    const token = await requestToken({ ...s, clientId, clientSecret, now: fetchedAt }, signal);
    // No expires_in: the token does not expire (as Go's oauth2 package reads it).
    const refreshAt =
      token.expiresInMs === undefined ? Number.POSITIVE_INFINITY : fetchedAt + token.expiresInMs - s.expiryBufferMs;
    return { header: `${token.type} ${token.accessToken}`, refreshAt };
  }
}

async function readSecret(source: SecretSource, what: string): Promise<string> {
  if (source.from === "value") return source.value;
  try {
    return (await readFile(source.path, "utf8")).trim();
  } catch (err) {
    throw new ConfigError(
      source.path,
      [`${what}: cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`],
      { cause: err },
    );
  }
}
