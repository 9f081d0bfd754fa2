import { describe, expect, it } from "vitest";
import { parseSize } from "../../src/config/validate-package.js";
import { configError, resolve, withAgent } from "./helpers.js";

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");

const withPackages = (
  agentLines: string,
  capabilities = "accepts_packages: true\n  reports_package_statuses: true",
): string => `${withAgent(agentLines)}capabilities:\n  ${capabilities}\n`;

describe("agent.package", () => {
  it("reads every key", () => {
    const config = resolve(
      withPackages(`package:
  archive: tar.gz
  agent_binary: ./dist/otelcol-contrib
  verifier:
    type: ed25519
    public_keys: ["${KEY_A}", "${KEY_B.replace(/=$/, "")}"]
  max_size: 512MiB
  download_timeout: 10m
  download_idle_timeout: 30s
  download_attempts: 5
  max_redirects: 2
  progress_interval: 250ms`),
    );
    expect(config.agent.package).toEqual({
      archive: "tar.gz",
      agentBinary: "dist/otelcol-contrib",
      publicKeys: [KEY_A, KEY_B],
      insecureAcceptUnsignedPackages: false,
      maxSizeBytes: 512 * 2 ** 20,
      downloadTimeoutMs: 600_000,
      downloadIdleTimeoutMs: 30_000,
      downloadAttempts: 5,
      maxRedirects: 2,
      progressIntervalMs: 250,
    });
  });

  it('takes the official supervisor\'s archive: "" as a raw binary', () => {
    expect(resolve(withAgent('package: {archive: ""}')).agent.package.archive).toBe("raw");
  });

  it("refuses to accept packages without a trusted key, naming the way out", () => {
    const err = configError(withPackages("package: {}"));
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^agent\.package\.verifier\.public_keys: capabilities\.accepts_packages is true but no trusted key.*package keygen.*insecure_accept_unsigned_packages: true/,
      ),
    ]);
  });

  it("starts without keys when the operator opts out explicitly", () => {
    const config = resolve(withPackages("package:\n  verifier:\n    insecure_accept_unsigned_packages: true"));
    expect(config.agent.package.insecureAcceptUnsignedPackages).toBe(true);
    expect(config.capabilities.acceptsPackages).toBe(true);
  });

  it("does not mix keys with the opt-out", () => {
    const err = configError(
      withAgent(`package:\n  verifier:\n    public_keys: ["${KEY_A}"]\n    insecure_accept_unsigned_packages: true`),
    );
    expect(err.problems).toEqual([
      expect.stringMatching(/insecure_accept_unsigned_packages: cannot be true while verifier\.public_keys is set/),
    ]);
  });

  it("needs no key while packages are not accepted", () => {
    expect(resolve(withAgent("package: {}")).agent.package.publicKeys).toEqual([]);
  });

  it("reports bad keys, types, paths and sizes with their key paths", () => {
    const err = configError(
      withAgent(`package:
  archive: zip
  agent_binary: ../otelcol
  verifier:
    type: rsa
    public_keys: [short, "${KEY_A}", "${KEY_A}"]
    identities: []
  max_size: lots
  download_attempts: 0`),
    );
    expect(err.problems).toEqual([
      expect.stringMatching(/^agent\.package\.archive: expected one of "raw", "tar\.gz", ""/),
      expect.stringMatching(/^agent\.package\.agent_binary: expected a relative file path/),
      expect.stringMatching(
        /^agent\.package\.verifier\.type: expected one of "ed25519", "", "cosign", got string "rsa"/,
      ),
      expect.stringMatching(
        /^agent\.package\.verifier\.identities: is a cosign option: only with verifier\.type "cosign"/,
      ),
      expect.stringMatching(
        /^agent\.package\.verifier\.public_keys\[0\]: expected the base64 of a 32-byte Ed25519 public key/,
      ),
      expect.stringMatching(/^agent\.package\.verifier\.public_keys\[2\]: is listed more than once/),
      expect.stringMatching(/^agent\.package\.max_size: expected a size/),
      expect.stringMatching(/^agent\.package\.download_attempts: expected an integer from 1 to 100/),
    ]);
  });

  it("accepts the Go supervisor's cosign verifier while packages are off (a warning), and refuses it when they are on", () => {
    const cosign =
      'package:\n  verifier:\n    type: cosign\n    github_workflow_repository: open-telemetry/opentelemetry-collector-releases\n    identities: [{issuer: "https://token.actions.githubusercontent.com"}]';
    expect(resolve(withAgent(cosign)).warnings).toEqual([
      expect.stringMatching(
        /^agent\.package\.verifier\.type: "cosign" has no effect while capabilities\.accepts_packages is off/,
      ),
    ]);
    const on = `${withAgent(cosign)}capabilities: {accepts_packages: true}\n`;
    expect(configError(on).problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^agent\.package\.verifier\.type: "cosign" is not supported/)]),
    );
  });

  it("requires agent_binary for tar.gz", () => {
    expect(configError(withAgent("package: {archive: tar.gz}")).problems).toEqual([
      expect.stringMatching(/agent_binary: is required when archive is "tar.gz"/),
    ]);
  });

  it("suggests the right key for a typo", () => {
    expect(configError(withAgent("package: {max_sise: 1}")).problems).toEqual([
      expect.stringMatching(/max_sise: unknown key \(did you mean "max_size"\?\)/),
    ]);
  });
});

describe("parseSize", () => {
  it.each([
    [1024, 1024],
    ["1024", 1024],
    ["1KiB", 1024],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["800MB", 800e6],
    ["10 MiB", 10 * 2 ** 20],
  ])("%s → %d bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });
  it.each([0, -1, 1.5, "1TB", "MiB", "", true])("refuses %s", (input) => {
    expect(parseSize(input)).toBeNull();
  });
});
