/**
 * Keys of the official Go supervisor that this supervisor accepts so its files load
 * unchanged, but that have no behaviour here (yet), and `healthcheck`, which is served
 * (health-server.ts). Each one that asks for something is reported once as a warning naming
 * the key; shapes are still checked, so a typo stays an error. (`telemetry` is in
 * validate-telemetry.ts.)
 */
import { Checker, EXPANSION_FAILED, describe, isPlainMap } from "./check.js";

/** Prefix of every "accepted, does nothing" warning, so operators can grep for it. */
export const NO_EFFECT = "accepted for compatibility with the official Go supervisor; has no effect here";

/**
 * healthcheck: the supervisor's own HTTP endpoint (confighttp.ServerConfig in Go; only
 * `endpoint` is read here). Off, as in Go, when the endpoint has no port; "" when off.
 */
export function buildHealthcheck(value: unknown, check: Checker): { endpoint: string } {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return { endpoint: "" };
  if (!isPlainMap(value)) {
    check.report(["healthcheck"], `expected a map, got ${describe(value)}`);
    return { endpoint: "" };
  }
  const endpoint = check.string(["healthcheck", "endpoint"], value.endpoint, "", { nullIsAbsent: true });
  const port = /:(\d+)$/.exec(endpoint)?.[1];
  if (port !== undefined && Number(port) > 65535) {
    check.report(["healthcheck", "endpoint"], `expected a port from 0 to 65535, got ${JSON.stringify(endpoint)}`);
    return { endpoint: "" };
  }
  return { endpoint: port === undefined ? "" : endpoint };
}
