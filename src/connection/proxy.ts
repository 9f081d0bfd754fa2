/**
 * HTTP(S) proxies from the environment, for the OpAMP connection (both transports) and
 * package downloads, chosen as Go's http.ProxyFromEnvironment chooses them, so a host set
 * up for the Go supervisor behaves the same here:
 * - HTTPS_PROXY for wss:// and https://, HTTP_PROXY for ws:// and http:// (either case;
 *   ALL_PROXY as a last resort); NO_PROXY exempts hosts, domains (".corp") and host:port;
 * - localhost and loopback addresses are never proxied;
 * - a proxy written without a scheme ("proxy.corp:3128") is an http:// proxy.
 * WebSocket and https go through a CONNECT tunnel, http as absolute-form requests. A proxy
 * URL may carry credentials (sent as Proxy-Authorization): log it only through
 * `describeProxy`.
 */
import type { Agent } from "node:http";
import { isIP } from "node:net";
import { HttpProxyAgent } from "http-proxy-agent";
import { HttpsProxyAgent } from "https-proxy-agent";
import { getProxyForUrl } from "proxy-from-env";
import { endpointScheme } from "../opamp/endpoint.js";

/** The proxy for requests to `target`, or undefined to connect directly. */
export function proxyFor(target: string | URL): URL | undefined {
  const url = new URL(target);
  const scheme = endpointScheme(url);
  if (!scheme || isLoopback(url.hostname)) return undefined;
  // WebSocket endpoints take the proxy of their http(s) equivalent, as Go's dialer does.
  const lookup = new URL(url.href.replace(/^wss?:/, scheme.secure ? "https:" : "http:"));
  const found = getProxyForUrl(lookup);
  if (found === "") return undefined;
  try {
    return new URL(schemeless(lookup) ? found.replace(/^https:\/\//, "http://") : found);
  } catch {
    return undefined; // a malformed proxy variable: connect directly, as Go does
  }
}

/** An agent that reaches `target` through its proxy, or undefined for a direct connection. */
export function proxyAgent(target: string | URL, options: { keepAlive?: boolean } = {}): Agent | undefined {
  const proxy = proxyFor(target);
  if (!proxy) return undefined;
  const agentOptions = options.keepAlive ? { keepAlive: true, maxSockets: 1 } : {};
  const scheme = endpointScheme(target);
  // Plain http requests are forwarded by the proxy; everything else is tunnelled.
  return scheme?.transport === "http" && !scheme.secure
    ? new HttpProxyAgent(proxy, agentOptions)
    : new HttpsProxyAgent(proxy, agentOptions);
}

/** The proxy as a log line may show it: never its credentials. */
export function describeProxy(proxy: URL | undefined): string | null {
  if (!proxy) return null;
  return `${proxy.protocol}//${proxy.host}`;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^::ffff:127\./.test(host);
  return false;
}

/** True when the proxy variable that applies to `lookup` was written without a scheme. */
function schemeless(lookup: URL): boolean {
  const proto = lookup.protocol.slice(0, -1);
  const env = process.env;
  const raw =
    env[`${proto}_proxy`] || env[`${proto.toUpperCase()}_PROXY`] || env["all_proxy"] || env["ALL_PROXY"] || "";
  return raw !== "" && !raw.includes("://");
}
