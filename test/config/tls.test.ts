import { describe, expect, it } from "vitest";
import { configError, resolve } from "./helpers.js";

const PEM_CERT = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0LWtleS1ieXRlcw==\\n-----END PRIVATE KEY-----\\n";

const withTls = (tls: string, endpoint = "wss://opamp.example.com/v1/opamp"): string => `
server:
  endpoint: ${endpoint}
  tls:
${tls
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
agent:
  executable: /usr/bin/otelcol
`;

describe("server.tls", () => {
  it("accepts inline PEM instead of files", () => {
    const tls = resolve(withTls(`ca_pem: "${PEM_CERT}"\ncert_pem: "${PEM_CERT}"\nkey_pem: "${PEM_KEY}"`)).server.tls;
    expect(tls.caPem).toContain("BEGIN CERTIFICATE");
    expect(tls.certPem).toContain("BEGIN CERTIFICATE");
    expect(tls.keyPem).toContain("BEGIN PRIVATE KEY");
    expect(tls.caFile).toBeNull();
  });

  it("takes multi-line PEM from the environment", () => {
    const key = "-----BEGIN PRIVATE KEY-----\nabc\ndef\n-----END PRIVATE KEY-----\n";
    const cert = key.replaceAll("PRIVATE KEY", "CERTIFICATE");
    const tls = resolve(withTls("cert_pem: ${env:CERT}\nkey_pem: ${env:KEY}"), { CERT: cert, KEY: key }).server.tls;
    expect(tls.keyPem).toBe(key);
    expect(tls.certPem).toBe(cert);
  });

  it("reads durations for renewal, including windows longer than the timer cap", () => {
    const tls = resolve(
      withTls(
        "renew_before: 8760h\nrenew_check_interval: 1h\nrenew_retry_interval: 5m\nconnection_trial_timeout: 2s\nwatch_files: false",
      ),
    ).server.tls;
    expect(tls).toMatchObject({
      renewBeforeMs: 8760 * 3_600_000,
      renewCheckIntervalMs: 3_600_000,
      renewRetryIntervalMs: 300_000,
      connectionTrialTimeoutMs: 2_000,
      watchFiles: false,
    });
    expect(resolve(withTls("renew_before: 0")).server.tls.renewBeforeMs).toBe(0);
  });

  it("reports conflicting, malformed and contradictory settings, never echoing a key", () => {
    const err = configError(
      withTls(
        `ca_file: ca.pem\nca_pem: "${PEM_CERT}"\ncert_pem: "not a pem"\nkey_pem: "hunter2-secret"\ninsecure: true\nrenew_check_interval: 0\nrenew_before: 100000h`,
      ),
    );
    expect(err.problems).toEqual([
      "server.tls.insecure: true asks for no TLS, but the endpoint is wss:// or https://; use a ws:// or http:// endpoint for plaintext, or remove it",
      "server.tls: ca_file and ca_pem are alternatives; give one",
      'server.tls.cert_pem: expected PEM text (a -----BEGIN ...----- block), got string "not a pem"',
      "server.tls.key_pem: expected PEM text (a -----BEGIN ...----- block)",
      expect.stringMatching(/^server\.tls\.renew_before: duration must be at most 315360000000ms/),
      "server.tls.renew_check_interval: expected a duration greater than 0, got number 0",
    ]);
    expect(err.message).not.toContain("hunter2");
  });

  it("requires the client certificate and key together in either form", () => {
    expect(configError(withTls(`cert_pem: "${PEM_CERT}"`)).problems).toEqual([
      "server.tls: cert_file and key_file must be given together",
    ]);
    expect(resolve(withTls(`cert_pem: "${PEM_CERT}"\nkey_file: agent.key`)).server.tls.keyFile).toBe(
      "/etc/otelcol/agent.key",
    );
  });

  it("keeps insecure for plaintext endpoints (the official example's shape) and advises on Go-only keys", () => {
    expect(
      resolve(withTls("insecure: true\ninsecure_skip_verify: true", "ws://127.0.0.1:4320/v1/opamp")).server.tls
        .insecure,
    ).toBe(true);
    const config = resolve(
      withTls('reload_interval: 30s\nmax_version: "1.2"\ninclude_system_ca_certs_pool: true\nca_file: ca.pem'),
    );
    expect(config.server.tls).toMatchObject({ maxVersion: "1.2", includeSystemCaCertsPool: true });
    expect(config.warnings).toEqual([
      expect.stringMatching(/^server\.tls\.reload_interval: accepted for compatibility .* are watched instead/),
    ]);
    expect(configError(withTls("tpm: {enabled: true}")).problems).toEqual([
      expect.stringMatching(/^server\.tls\.tpm: .*key_file/),
    ]);
  });
});

describe("examples/supervisor.yaml", () => {
  it("documents every server.tls key", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL("../../examples/supervisor.yaml", import.meta.url), "utf8");
    const keys = [
      "insecure",
      "insecure_skip_verify",
      "ca_file",
      "cert_file",
      "key_file",
      "ca_pem",
      "cert_pem",
      "key_pem",
      "min_version",
      "server_name_override",
      "renew_before",
      "renew_check_interval",
      "renew_retry_interval",
      "watch_files",
      "connection_trial_timeout",
    ];
    for (const key of keys) expect(text).toMatch(new RegExp(`^\\s+#? ?${key}:`, "m"));
  });
});
