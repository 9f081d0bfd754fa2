import { describe, expect, it } from "vitest";
import { checkCertificate, certificateInfo } from "../../src/connection/certificate.js";
import { pemBlocks } from "../../src/connection/pem.js";
import { DAY, clientCert, key, makeCa } from "./pki.js";

const now = Date.now();
const ca = makeCa("Test CA", 10);
const rogue = makeCa("Rogue CA", 12);
const anchors = [{ pems: [ca.certPem], label: "server.tls.ca_file /etc/ca.pem" }];

describe("checkCertificate", () => {
  it("accepts a valid certificate with its key, chaining to the CA, and describes it", () => {
    const { certPem, keyPem } = clientCert(ca, 0, { cn: "agent-1" });
    const check = checkCertificate({ certPem, keyPem, now, anchors, label: "cert" });
    expect(check).toMatchObject({ ok: true, info: { subject: "CN=agent-1", issuer: "CN=Test CA" } });
    if (check.ok) expect(check.info.notAfter).toBeGreaterThan(now + 80 * DAY);
    expect(certificateInfo(certPem)?.subject).toBe("CN=agent-1");
  });

  it("names the certificate and the reason for each kind of failure", () => {
    const expired = clientCert(ca, 0, { notBefore: now - 10 * DAY, notAfter: now - DAY });
    const future = clientCert(ca, 0, { notBefore: now + DAY, notAfter: now + 10 * DAY });
    const good = clientCert(ca, 0);
    const foreign = clientCert(rogue, 0);
    const results = [
      checkCertificate({ certPem: expired.certPem, keyPem: expired.keyPem, now, label: "server.tls.cert_file /a.pem" }),
      checkCertificate({ certPem: future.certPem, now, label: "server.tls.cert_file /a.pem" }),
      checkCertificate({ certPem: good.certPem, keyPem: key(1).pem, now, label: "offered certificate" }),
      checkCertificate({ certPem: foreign.certPem, now, anchors, label: "offered certificate" }),
      checkCertificate({ certPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", now, label: "x" }),
      checkCertificate({ certPem: "hello", now, label: "x" }),
      checkCertificate({
        certPem: good.certPem,
        keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        now,
        label: "x",
      }),
    ];
    expect(results.map((r) => (r.ok ? "ok" : r.problem))).toEqual([
      "expired",
      "not-yet-valid",
      "key-mismatch",
      "untrusted",
      "unparsable",
      "unparsable",
      "unparsable",
    ]);
    const messages = results.map((r) => (r.ok ? "" : r.message));
    expect(messages[0]).toMatch(/^server\.tls\.cert_file \/a\.pem: expired on \d{4}-/);
    expect(messages[1]).toMatch(/^server\.tls\.cert_file \/a\.pem: not valid before/);
    expect(messages[2]).toBe("offered certificate: the private key does not match the certificate");
    expect(messages[3]).toMatch(/issued by "CN=Rogue CA", which does not chain to server\.tls\.ca_file \/etc\/ca\.pem/);
    for (const m of messages) expect(m).not.toMatch(/PRIVATE KEY|AAAA/);
  });

  it("follows intermediates given after the leaf", () => {
    const intermediate = makeCa("Intermediate CA", 13, {}, ca);
    const leaf = clientCert(intermediate, 0);
    const bundle = `${leaf.certPem}${intermediate.certPem}`;
    expect(pemBlocks(bundle, "CERTIFICATE")).toHaveLength(2);
    expect(checkCertificate({ certPem: bundle, keyPem: leaf.keyPem, now, anchors, label: "c" }).ok).toBe(true);
    // Without the intermediate the leaf does not reach the root.
    expect(checkCertificate({ certPem: leaf.certPem, now, anchors, label: "c" })).toMatchObject({
      ok: false,
      problem: "untrusted",
    });
  });
});
