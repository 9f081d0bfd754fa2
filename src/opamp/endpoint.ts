/**
 * The one reading of an endpoint's scheme: which transport it speaks and whether it is
 * secure. OpAMP defines ws/wss (WebSocket) and http/https (plain HTTP polling); TLS follows
 * the scheme, nothing else switches it on.
 */
export interface EndpointScheme {
  transport: "ws" | "http";
  secure: boolean;
}

const SCHEMES: Readonly<Record<string, EndpointScheme>> = {
  "ws:": { transport: "ws", secure: false },
  "wss:": { transport: "ws", secure: true },
  "http:": { transport: "http", secure: false },
  "https:": { transport: "http", secure: true },
};

/** Undefined when `endpoint` is not a URL or has another scheme. */
export function endpointScheme(endpoint: string | URL): EndpointScheme | undefined {
  let protocol: string;
  try {
    protocol = (typeof endpoint === "string" ? new URL(endpoint) : endpoint).protocol;
  } catch {
    return undefined;
  }
  return SCHEMES[protocol];
}

/** wss:// and https://. */
export function isSecureEndpoint(endpoint: string | URL): boolean {
  return endpointScheme(endpoint)?.secure === true;
}
