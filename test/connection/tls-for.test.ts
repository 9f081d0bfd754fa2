/** supervisor.yaml's server.tls keys reach the TLS settings every connection is built from. */
import { describe, expect, it } from "vitest";
import { tlsFor } from "../../src/connection/active-settings.js";
import type { ActiveSettings } from "../../src/connection/active-settings.js";
import { MINIMAL, resolve } from "../config/helpers.js";

const active = (ca: ActiveSettings["ca"]): ActiveSettings => ({
  endpoint: "wss://opamp.example:4320/v1/opamp",
  headers: {},
  minVersion: "TLSv1.2",
  ca,
  client: undefined,
  hash: undefined,
  heartbeatSeconds: null,
});
const config = (tls: string) => resolve(MINIMAL.replace("server:\n", `server:\n  tls: {${tls}}\n`));

describe("tlsFor", () => {
  it("carries max_version and include_system_ca_certs_pool (with a CA of its own)", () => {
    const tls = tlsFor(
      active({ kind: "file", file: "/etc/ca.pem" }),
      config('max_version: "1.2", include_system_ca_certs_pool: true'),
    );
    expect(tls).toMatchObject({ maxVersion: "TLSv1.2", systemRoots: true, caFile: "/etc/ca.pem" });
  });

  it("needs no extra roots without a CA of its own, and no maximum unless one is set", () => {
    const tls = tlsFor(active({ kind: "system" }), config("include_system_ca_certs_pool: true"));
    expect(tls.systemRoots).toBeUndefined();
    expect(tls.maxVersion).toBeUndefined();
  });
});
