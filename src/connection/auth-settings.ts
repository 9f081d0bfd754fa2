/**
 * What `server.auth` resolves to: the config room parses supervisor.yaml's `server.auth`
 * and top-level `extensions` into these (config/schema-auth.ts). Values are secrets.
 */
export type {
  AuthClientTls,
  AuthSettings,
  BasicAuth,
  BearerTokenAuth,
  OAuth2ClientAuth,
  SecretSource,
} from "../config/schema.js";
