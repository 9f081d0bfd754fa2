import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateCertificateRequest } from "../../src/connection/csr.js";
import { forge } from "../../src/connection/forge.js";

const UID = "0190f3a2-7b1c-7d4e-8f00-123456789abc";

describe("generateCertificateRequest", () => {
  it("makes a signed PKCS#10 request naming the instance uid, for a key that stays here", async () => {
    const { keyPem, csrPem } = await generateCertificateRequest({ instanceUid: UID, organization: "acme" });
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    expect(csrPem).not.toMatch(/PRIVATE KEY/);
    const csr = forge().pki.certificationRequestFromPem(csrPem);
    expect(csr.verify()).toBe(true);
    expect(csr.subject.getField("CN")?.value).toBe(UID);
    expect(csr.subject.getField("O")?.value).toBe("acme");
    const ext = csr.getAttribute({ name: "extensionRequest" }) as {
      extensions: Array<{ name: string; altNames: Array<{ value: string }> }>;
    };
    expect(ext.extensions[0]?.altNames[0]?.value).toBe(`urn:uuid:${UID}`);
    // The request carries the public half of exactly this key.
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "pem" }).toString();
    expect(
      forge()
        .pki.publicKeyToPem(csr.publicKey as never)
        .replace(/\r/g, ""),
    ).toBe(fromKey);
    // OpenSSL agrees that the request is well-formed and its signature is valid.
    const out = execFileSync("openssl", ["req", "-verify", "-noout", "-subject"], {
      input: csrPem,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    });
    expect(out).toContain(UID);
  });
});
