/**
 * One OAuth2 client-credentials token request (RFC 6749 §4.4), as Go's clientcredentials
 * package makes it: a form POST to token_url with the client id and secret in HTTP Basic
 * (falling back to the form body when the server refuses that, as its auto-detection does),
 * through the environment's proxy, with the extension's TLS settings.
 */
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { ProtocolError } from "../errors.js";
import { endpointScheme } from "../opamp/endpoint.js";
import type { OAuth2ClientAuth } from "./auth-settings.js";
import { proxyAgent } from "./proxy.js";
import { buildTlsOptions } from "./tls-options.js";
import type { TlsSettings } from "./tls-options.js";

const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

export interface TokenRequest extends Omit<OAuth2ClientAuth, "clientId" | "clientSecret"> {
  clientId: string;
  clientSecret: string;
  now: number;
}

export interface Token {
  accessToken: string;
  /** "Bearer", as Go's oauth2 package normalises it. */
  type: string;
  expiresInMs: number | undefined;
}

/** Fetches a token; errors name the endpoint and the server's error code, never a secret. */
export async function requestToken(req: TokenRequest, signal: AbortSignal): Promise<Token> {
  const url = new URL(req.tokenUrl);
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (req.scopes.length > 0) form.set("scope", req.scopes.join(" "));
  for (const [key, values] of Object.entries(req.endpointParams)) for (const v of values) form.append(key, v);
  const timeout = req.timeoutMs === null ? signal : AbortSignal.any([signal, AbortSignal.timeout(req.timeoutMs)]);
  // Basic first; a server that only takes credentials in the body answers 400/401.
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(req.clientId)}:${encodeURIComponent(req.clientSecret)}`).toString("base64")}`;
  let res = await post(url, form.toString(), { authorization: basic }, req, timeout);
  if (res.status === 400 || res.status === 401) {
    const inBody = new URLSearchParams(form);
    inBody.set("client_id", req.clientId);
    inBody.set("client_secret", req.clientSecret);
    res = await post(url, inBody.toString(), {}, req, timeout);
  }
  const where = `the OAuth2 token endpoint ${url.origin}${url.pathname}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    throw new ProtocolError("CONNECTION_FAILED", `${where} answered HTTP ${res.status} without a JSON body`);
  }
  if (res.status !== 200 || typeof body["access_token"] !== "string" || body["access_token"] === "") {
    const code = typeof body["error"] === "string" ? ` (${body["error"]})` : "";
    throw new ProtocolError("CONNECTION_FAILED", `${where} refused the client credentials: HTTP ${res.status}${code}`);
  }
  const expiresIn = Number(body["expires_in"]);
  const type =
    typeof body["token_type"] === "string" && body["token_type"].toLowerCase() !== "bearer"
      ? body["token_type"]
      : "Bearer";
  return {
    accessToken: body["access_token"],
    type,
    expiresInMs: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : undefined,
  };
}

async function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  req: TokenRequest,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const secure = endpointScheme(url)?.secure === true;
  if (endpointScheme(url)?.transport !== "http")
    throw new ProtocolError("CONNECTION_FAILED", `unsupported OAuth2 token_url scheme ${url.protocol}`);
  const tls = secure ? await buildTlsOptions(tokenTls(req), req.now) : {};
  const send = secure ? httpsRequest : httpRequest;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = send(url, {
      method: "POST",
      signal,
      agent: proxyAgent(url) ?? false,
      headers: {
        ...headers,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        "content-length": Buffer.byteLength(body),
      },
      ...tls,
    });
    r.once("response", resolve);
    r.once("error", (err) =>
      reject(
        new ProtocolError("CONNECTION_FAILED", `the OAuth2 token request to ${url.origin} failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    r.end(body);
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    // A token answer is a few hundred bytes; anything huge is not one.
    if (size > MAX_TOKEN_RESPONSE_BYTES) {
      res.destroy();
      throw new ProtocolError(
        "CONNECTION_FAILED",
        `the OAuth2 token endpoint ${url.origin} sent more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") };
}

function tokenTls(req: TokenRequest): TlsSettings {
  const t = req.tls;
  return {
    ...(t.caFile ? { caFile: t.caFile } : {}),
    ...(t.certFile ? { certFile: t.certFile } : {}),
    ...(t.keyFile ? { keyFile: t.keyFile } : {}),
    ...(t.serverNameOverride ? { serverName: t.serverNameOverride } : {}),
    ...(t.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
  };
}
