/** server.auth + top-level extensions, in the official Go supervisor's shape. */
import { describe, expect, it } from "vitest";
import { CONFIG_PATH, configError, resolve } from "./helpers.js";

const withAuth = (auth: string, extensions: string): string => `
server:
  endpoint: wss://opamp.example.com/v1/opamp
  auth: ${auth}
agent:
  executable: /usr/bin/otelcol
extensions:
${extensions}`;

describe("server.auth", () => {
  it("reads bearertokenauth with an inline token, defaulting header and scheme", () => {
    const config = resolve(withAuth("bearertokenauth", "  bearertokenauth:\n    token: s3cret\n"));
    expect(config.server.auth).toEqual({
      kind: "bearertokenauth",
      id: "bearertokenauth",
      header: "Authorization",
      scheme: "Bearer",
      token: { from: "value", value: "s3cret" },
    });
  });

  it("prefers the token file (relative to supervisor.yaml) and keeps a named id and custom header", () => {
    const config = resolve(
      withAuth(
        "bearertokenauth/corp",
        '  bearertokenauth/corp:\n    filename: token.txt\n    token: ignored\n    header: X-Api-Key\n    scheme: ""\n',
      ),
    );
    expect(config.server.auth).toEqual({
      kind: "bearertokenauth",
      id: "bearertokenauth/corp",
      header: "X-Api-Key",
      scheme: "",
      token: { from: "file", path: CONFIG_PATH.replace("supervisor.yaml", "token.txt") },
    });
  });

  it("reads basicauth client_auth", () => {
    const config = resolve(withAuth("basicauth", "  basicauth:\n    client_auth: {username: agent, password: pw}\n"));
    expect(config.server.auth).toEqual({ kind: "basicauth", id: "basicauth", username: "agent", password: "pw" });
  });

  it("reads oauth2client with defaults, files and parameters", () => {
    const config = resolve(
      withAuth(
        "oauth2client",
        `  oauth2client:
    client_id: agent
    client_secret_file: /run/secrets/oauth
    token_url: https://idp.example.com/token
    scopes: [opamp.write]
    endpoint_params: {audience: opamp, resource: [a, b]}
    timeout: 2s
    tls: {ca_file: idp-ca.pem}
`,
      ),
    );
    expect(config.server.auth).toEqual({
      kind: "oauth2client",
      id: "oauth2client",
      clientId: { from: "value", value: "agent" },
      clientSecret: { from: "file", path: "/run/secrets/oauth" },
      tokenUrl: "https://idp.example.com/token",
      scopes: ["opamp.write"],
      endpointParams: { audience: ["opamp"], resource: ["a", "b"] },
      timeoutMs: 2000,
      expiryBufferMs: 300_000,
      tls: {
        insecureSkipVerify: false,
        caFile: "/etc/otelcol/idp-ca.pem",
        certFile: null,
        keyFile: null,
        serverNameOverride: null,
      },
    });
  });

  it("loads a used auth extension without a warning (the connection applies it)", () => {
    const config = resolve(withAuth("basicauth", "  basicauth:\n    client_auth: {username: agent, password: pw}\n"));
    expect(config.warnings).toEqual([]);
  });

  it("accepts the collector's {authenticator: id} spelling", () => {
    expect(
      resolve(withAuth("{authenticator: basicauth}", "  basicauth:\n    client_auth: {username: a, password: b}\n"))
        .server.auth?.kind,
    ).toBe("basicauth");
  });

  it("refuses what Go refuses, naming the key and never echoing a secret", () => {
    const problems = (auth: string, extensions: string): readonly string[] =>
      configError(withAuth(auth, extensions)).problems;
    expect(problems("bearertokenauth", "  basicauth:\n    client_auth: {username: a, password: hunter2}\n")).toEqual([
      'server.auth: names extension "bearertokenauth", which is not defined under the top-level extensions; defined: basicauth',
    ]);
    expect(problems("bearertokenauth", "  bearertokenauth:\n    scheme: Bearer\n")).toEqual([
      "extensions.bearertokenauth: needs token, tokens or filename",
    ]);
    expect(problems("oauth2client", "  oauth2client:\n    client_id: a\n    token_url: ftp://x\n")).toEqual([
      "extensions.oauth2client: needs client_secret or client_secret_file",
      'extensions.oauth2client.token_url: expected an http:// or https:// URL, got string "ftp://x"',
    ]);
    expect(problems("basicauth", "  basicauth:\n    htpasswd: {file: /etc/htpasswd}\n")).toEqual([
      "extensions.basicauth.client_auth: is required when server.auth uses basicauth (htpasswd is for servers)",
    ]);
    expect(problems("headerssetter", "  headerssetter:\n    headers: []\n")).toEqual([
      expect.stringMatching(
        /^extensions\.headerssetter: unsupported extension \(expected bearertokenauth, basicauth, oauth2client/,
      ),
    ]);
    const secret = configError(withAuth("bearertokenauth", "  bearertokenauth:\n    token: [hunter2]\n    tokn: x\n"));
    expect(secret.problems).toEqual([
      'extensions.bearertokenauth.tokn: unknown key (did you mean "token"?)',
      "extensions.bearertokenauth.token: expected a string, got a list",
      "extensions.bearertokenauth: needs token, tokens or filename",
    ]);
    expect(secret.message).not.toContain("hunter2");
  });
});
