/** The own-telemetry transaction against the fake driver: kept only once proven, rolled back otherwise. */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ConnectionSettingsOffer, OfferedTelemetry } from "../../src/opamp/domain.js";
import { OwnTelemetry } from "../../src/supervisor/own-telemetry.js";
import { applyRemoteConfig } from "../../src/supervisor/remote-config.js";
import { createGrowingMasker } from "../../src/telemetry/mask.js";
import { makeCa } from "../connection/pki.js";
import { LOCAL, makeHarness, marked, offer, runs } from "./harness.js";
import type { Harness } from "./harness.js";

const UID = "0192e4a4-0000-7000-8000-0000000000aa";
const TOKEN = "own-telemetry-unit-token";
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const destination = (endpoint: string, o: Partial<OfferedTelemetry> = {}): OfferedTelemetry => ({
  endpoint,
  headers: [{ key: "X-Token", value: TOKEN }],
  certificate: undefined,
  tls: undefined,
  hasProxy: false,
  ...o,
});
const settingsOffer = (n: number, parts: Partial<ConnectionSettingsOffer>): ConnectionSettingsOffer => ({
  hash: new Uint8Array([0x07, n]),
  opamp: undefined,
  ...parts,
});

function telemetryOf(config: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return (config?.["service"] as { telemetry?: Record<string, unknown> } | undefined)?.telemetry;
}

async function open(t: Harness, uid = () => UID) {
  const masker = createGrowingMasker([]);
  return { masker, own: await OwnTelemetry.open(t.ctx, [masker], uid) };
}

describe("the own-telemetry transaction", () => {
  it("runs the offered destination, keeps it, masks its header, and later configs keep it too", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"] }));
    const { masker, own } = await open(t);
    const result = await t.drive(
      own.apply(settingsOffer(1, { ownMetrics: destination("https://m/v1/metrics") }), t.ctx.signal),
    );
    expect(result).toEqual({ ok: true });
    expect(JSON.stringify(telemetryOf(t.driver.current?.config))).toContain("https://m/v1/metrics");
    const stored = JSON.parse(await readFile(t.ctx.stateDir.file("own-telemetry.json"), "utf8")) as { hash: string };
    expect(stored.hash).toBe("0701");
    expect(masker.mask(`x-token: ${TOKEN}`)).toBe("x-token: [masked]");
    expect((await t.audit()).at(-1)).toMatchObject({ action: "own-telemetry-applied", hash: "0701" });

    await t.drive(applyRemoteConfig(t.ctx, offer(1, { "r.yaml": marked("one") })));
    expect(runs(t.driver.current?.config, "one")).toBe(true);
    expect(JSON.stringify(telemetryOf(t.driver.current?.config))).toContain("https://m/v1/metrics");
  });

  it("rolls back to the settings in force when the collector cannot start with the offered ones", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"] }));
    const { own } = await open(t);
    t.driver.startFailures.push(new Error("failed to create meter provider: injected"));
    const result = await t.drive(
      own.apply(settingsOffer(2, { ownMetrics: destination("https://m/v1/metrics") }), t.ctx.signal),
    );
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringContaining("failed to create meter provider: injected"),
    });
    expect(t.driver.current).toBeDefined();
    expect(telemetryOf(t.driver.current?.config)).toBeUndefined();
    await expect(readFile(t.ctx.stateDir.file("own-telemetry.json"))).rejects.toMatchObject({ code: "ENOENT" });
    expect((await t.audit()).map((l) => l["action"])).toContain("own-telemetry-failed");
  });

  it("does not keep settings a restart would forget: a refused write rolls back", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"] }));
    const { own } = await open(t);
    const writeJson = t.ctx.store.writeJson.bind(t.ctx.store);
    t.ctx.store.writeJson = (name, value) =>
      name === "own-telemetry.json"
        ? Promise.reject(Object.assign(new Error("ENOSPC: injected"), { code: "ENOSPC" }))
        : writeJson(name, value);
    const result = await t.drive(
      own.apply(settingsOffer(3, { ownMetrics: destination("https://m/v1/metrics") }), t.ctx.signal),
    );
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^cannot keep the settings: no space left/),
    });
    expect(telemetryOf(t.driver.current?.config)).toBeUndefined();
  });

  it("turns a signal off for an empty endpoint and removes the certificate files it no longer needs", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"] }));
    const { own } = await open(t);
    const ca = makeCa("Unit Own CA", 50).certPem;
    const withCa = destination("https://m/v1/metrics", { certificate: { certPem: "", keyPem: "", caPem: ca } });
    expect(await t.drive(own.apply(settingsOffer(4, { ownMetrics: withCa }), t.ctx.signal))).toEqual({ ok: true });
    const folder = join(t.ctx.stateDir.root, "own-telemetry");
    const [file] = await readdir(folder);
    expect(await readFile(join(folder, file!), "utf8")).toBe(ca);
    expect(JSON.stringify(telemetryOf(t.driver.current?.config))).toContain(join(folder, file!));

    expect(await t.drive(own.apply(settingsOffer(5, { ownMetrics: destination("") }), t.ctx.signal))).toEqual({
      ok: true,
    });
    expect(telemetryOf(t.driver.current?.config)).toBeUndefined();
    expect(await readdir(folder)).toEqual([]);
  });

  it("takes only the parts its capabilities allow, and names the others", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_logs"] }));
    const { own } = await open(t);
    expect(
      own.parts(
        settingsOffer(6, { ownLogs: destination("http://l/v1/logs"), ownTraces: destination("http://t/v1/traces") }),
      ),
    ).toEqual({
      accepted: ["logs"],
      refused: ["own_traces (capabilities.reports_own_traces is false)"],
    });
    expect(own.parts(settingsOffer(7, {}))).toEqual({ accepted: [], refused: [] });
  });

  it("starts without own telemetry when its document is damaged, and sets it aside", async () => {
    const t = (h = await makeHarness());
    await writeFile(t.ctx.stateDir.file("own-telemetry.json"), "{ not json");
    await open(t);
    const composed = await t.ctx.collector.composeFallback(undefined);
    expect(composed.ok && composed.composition.yaml).not.toContain("telemetry");
    const names = await readdir(t.ctx.stateDir.root);
    expect(names.some((n) => n.startsWith("own-telemetry.json.corrupt-"))).toBe(true);
  });

  it("refuses, naming the section, an offer a local config would replace (lists replace: a local reader list wins)", async () => {
    const local = `${LOCAL}  telemetry:\n    metrics:\n      readers:\n        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: 9999}}}\n`;
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"], local }));
    const { own } = await open(t);
    const run = t.driver.current;
    const result = await t.drive(
      own.apply(settingsOffer(8, { ownMetrics: destination("https://m/v1/metrics") }), t.ctx.signal),
    );
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^the local config replaces service::telemetry::metrics/),
    });
    expect(t.driver.current).toBe(run);
  });

  it("names the new instance uid in the resource once the server assigns one", async () => {
    const t = (h = await makeHarness({ capabilities: ["reports_own_metrics"] }));
    let uid = UID;
    const { own } = await open(t, () => uid);
    await t.drive(own.apply(settingsOffer(9, { ownMetrics: destination("https://m/v1/metrics") }), t.ctx.signal));
    expect(JSON.stringify(telemetryOf(t.driver.current?.config))).toContain(UID);
    uid = "0192e4a4-0000-7000-8000-0000000000bb";
    await t.drive(own.instanceUidChanged(t.ctx.signal));
    const telemetry = JSON.stringify(telemetryOf(t.driver.current?.config));
    expect(telemetry).toContain(uid);
    expect(telemetry).toContain("https://m/v1/metrics");
    const stored = JSON.parse(await readFile(t.ctx.stateDir.file("own-telemetry.json"), "utf8")) as { hash: string };
    expect(stored.hash).toBe("0709");
  });
});
