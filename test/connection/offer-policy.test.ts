import { describe, expect, it } from "vitest";
import { evaluateOffer, parseTlsVersion } from "../../src/connection/offer-policy.js";
import type { OfferedSettings, SettingsInForce } from "../../src/connection/offer-policy.js";
import { buildCsr } from "../../src/connection/csr.js";
import { DAY, clientCert, key, makeCa, signCsr } from "./pki.js";

const now = Date.now();
const ca = makeCa("Policy CA", 10);
const rogue = makeCa("Rogue CA", 12);
const current = clientCert(ca, 0);

const inForce: SettingsInForce = {
  endpoint: "wss://opamp.example.com/v1/opamp",
  headers: { Authorization: "Bearer old" },
  minVersion: "TLSv1.2",
  insecureSkipVerify: false,
  caPems: [ca.certPem],
  caLabel: "server.tls.ca_file /etc/ca.pem",
  client: current,
};

const offer = (o: Partial<OfferedSettings> = {}): OfferedSettings => ({
  endpoint: "",
  headers: undefined,
  certificate: undefined,
  tls: undefined,
  hasProxy: false,
  heartbeatIntervalSeconds: 0,
  ...o,
});
const tls = (o: Partial<NonNullable<OfferedSettings["tls"]>>): OfferedSettings["tls"] => ({
  caPem: "",
  includeSystemCa: false,
  insecureSkipVerify: false,
  minVersion: "",
  maxVersion: "",
  cipherSuites: [],
  ...o,
});
const reason = (o: OfferedSettings, from: SettingsInForce = inForce): string => {
  const d = evaluateOffer(from, o, { now });
  return d.ok ? "accepted" : d.reason;
};

describe("evaluateOffer: what may change", () => {
  it("keeps everything an offer leaves out, and reports no change for an empty one", () => {
    const d = evaluateOffer(inForce, offer(), { now });
    expect(d).toMatchObject({
      ok: true,
      endpoint: inForce.endpoint,
      headers: inForce.headers,
      minVersion: "TLSv1.2",
      changed: false,
    });
    const same = evaluateOffer(inForce, offer({ endpoint: "WSS://OPAMP.example.com:443/v1/opamp" }), { now });
    expect(same).toMatchObject({ ok: true, endpoint: inForce.endpoint, changed: false });
  });

  it("takes a new endpoint and headers (repeated keys joined)", () => {
    const d = evaluateOffer(
      inForce,
      offer({
        endpoint: "wss://other.example.com/v1/opamp",
        headers: [
          { key: "Authorization", value: "Bearer new" },
          { key: "X-A", value: "1" },
          { key: "x-a", value: "2" },
        ],
      }),
      { now },
    );
    expect(d).toMatchObject({
      ok: true,
      endpoint: "wss://other.example.com/v1/opamp",
      headers: { Authorization: "Bearer new", "X-A": "1, 2" },
      changed: true,
    });
  });

  it("takes a certificate with its key, chained to the offered CA or the configured one", () => {
    const next = clientCert(ca, 1);
    const withKey = evaluateOffer(inForce, offer({ certificate: { ...next, caPem: "" } }), { now });
    expect(withKey).toMatchObject({ ok: true, changed: true, client: { keySource: "offer", keyPem: next.keyPem } });
    const other = makeCa("Other CA", 13);
    const viaOfferedCa = evaluateOffer(
      inForce,
      offer({ certificate: { ...clientCert(other, 1), caPem: other.certPem } }),
      { now },
    );
    expect(viaOfferedCa.ok).toBe(true);
  });

  it("pairs a certificate offered without a key with the key of the outstanding CSR", () => {
    const pendingKey = key(2);
    const csrPem = buildCsr(pendingKey.pem, { instanceUid: "0190f3a2-7b1c-7d4e-8f00-123456789abc" });
    const { certPem, cn } = signCsr(ca, csrPem);
    expect(cn).toBe("0190f3a2-7b1c-7d4e-8f00-123456789abc");
    const d = evaluateOffer(inForce, offer({ certificate: { certPem, keyPem: "", caPem: ca.certPem } }), {
      now,
      pendingCsrKeyPem: pendingKey.pem,
    });
    expect(d).toMatchObject({ ok: true, client: { keySource: "csr", keyPem: pendingKey.pem } });
    // Re-issued for the current key: paired with that one.
    const reissued = clientCert(ca, 0, { cn: "again" });
    expect(
      evaluateOffer(inForce, offer({ certificate: { certPem: reissued.certPem, keyPem: "", caPem: "" } }), { now }),
    ).toMatchObject({
      ok: true,
      client: { keySource: "current" },
    });
  });

  it("raises the TLS minimum and notes what it ignores", () => {
    const d = evaluateOffer(
      inForce,
      offer({ tls: tls({ minVersion: "TLSv1.3", maxVersion: "1.3", cipherSuites: ["TLS_AES_128_GCM_SHA256"] }) }),
      { now },
    );
    expect(d).toMatchObject({
      ok: true,
      minVersion: "TLSv1.3",
      changed: true,
      ignored: ["tls.max_version", "tls.cipher_suites"],
    });
  });
});

describe("evaluateOffer: what is refused", () => {
  it("refuses every weakening of security", () => {
    expect(reason(offer({ endpoint: "ws://opamp.example.com/v1/opamp" }))).toMatch(
      /from wss:\/\/ to ws:\/\/: that would drop TLS/,
    );
    expect(reason(offer({ endpoint: "http://opamp.example.com/v1/opamp" }))).toMatch(/drop TLS/);
    expect(reason(offer({ tls: tls({ insecureSkipVerify: true }) }))).toMatch(/refusing insecure_skip_verify/);
    expect(reason(offer({ tls: tls({ minVersion: "1.1" }) }))).toMatch(/older than TLS 1\.2/);
    expect(reason(offer({ tls: tls({ minVersion: "1.2" }) }), { ...inForce, minVersion: "TLSv1.3" })).toMatch(
      /lower the TLS minimum/,
    );
    expect(reason(offer({ tls: tls({ caPem: rogue.certPem }) }))).toMatch(
      /refusing to replace the trusted CA \(server\.tls\.ca_file \/etc\/ca\.pem\)/,
    );
    expect(reason(offer({ tls: tls({ includeSystemCa: true }) }))).toMatch(/widen/);
    expect(reason(offer({ hasProxy: true }))).toMatch(/proxy/);
    expect(reason(offer({ endpoint: "wss://user:pw@h/x" }))).toMatch(/credentials/);
    expect(reason(offer({ endpoint: "ftp://h/x" }))).toMatch(/unsupported scheme ftp/);
    expect(reason(offer({ headers: [{ key: "X", value: "a\r\nInjected: 1" }] }))).toMatch(/CR, LF/);
  });

  it("allows what only looks like a change: the same CA again, ws to wss", () => {
    expect(reason(offer({ tls: tls({ caPem: ca.certPem }) }))).toBe("accepted");
    expect(reason(offer({ endpoint: "wss://h/x" }), { ...inForce, endpoint: "ws://h/x", client: undefined })).toBe(
      "accepted",
    );
  });

  it("refuses expired, not yet valid, wrong-CA and key-mismatch certificates with the reason", () => {
    const expired = clientCert(ca, 1, { notBefore: now - 30 * DAY, notAfter: now - DAY });
    const future = clientCert(ca, 1, { notBefore: now + DAY, notAfter: now + 30 * DAY });
    const wrongCa = clientCert(rogue, 1);
    const good = clientCert(ca, 1);
    expect(reason(offer({ certificate: { ...expired, caPem: ca.certPem } }))).toMatch(
      /^offered certificate: expired on/,
    );
    expect(reason(offer({ certificate: { ...future, caPem: ca.certPem } }))).toMatch(
      /^offered certificate: not valid before/,
    );
    expect(reason(offer({ certificate: { ...wrongCa, caPem: ca.certPem } }))).toMatch(
      /does not chain to the CA offered with it or server\.tls\.ca_file/,
    );
    expect(reason(offer({ certificate: { certPem: good.certPem, keyPem: key(3).pem, caPem: "" } }))).toBe(
      "offered certificate: the private key does not match the certificate",
    );
    expect(reason(offer({ certificate: { certPem: good.certPem, keyPem: "", caPem: "" } }))).toMatch(
      /matches neither the key of the outstanding certificate request nor the current key/,
    );
    expect(reason(offer({ certificate: { certPem: "", keyPem: "", caPem: "" } }))).toBe(
      "the offered certificate is empty",
    );
    expect(
      reason(offer({ endpoint: "ws://h/x", certificate: { ...good, caPem: "" } }), {
        ...inForce,
        endpoint: "ws://h/x",
      }),
    ).toMatch(/needs a wss/);
  });

  it("without a configured CA, checks against the system roots", () => {
    const d = evaluateOffer(
      { ...inForce, caPems: undefined, caLabel: "the system CA roots" },
      offer({ certificate: { ...clientCert(ca, 1), caPem: "" } }),
      { now },
    );
    expect(d).toMatchObject({ ok: false, reason: expect.stringMatching(/does not chain to the system CA roots/) });
  });
});

describe("parseTlsVersion", () => {
  it("reads the spellings servers use", () => {
    expect(["", "1.2", "TLSv1.2", "tls1.3", "1.3", "1.0", "TLSv1.1", "2.0"].map(parseTlsVersion)).toEqual([
      undefined,
      "TLSv1.2",
      "TLSv1.2",
      "TLSv1.3",
      "TLSv1.3",
      "too-old",
      "too-old",
      "invalid",
    ]);
  });
});
