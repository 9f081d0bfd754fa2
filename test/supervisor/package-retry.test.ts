/**
 * An install a full or read-only state directory stopped is tried again by the supervisor
 * itself, backing off, until it settles; a newer offer replaces the pending retry.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import { createDefaultDeps, silentLogger } from "../../src/deps.js";
import type { PackagesOffer } from "../../src/opamp/domain.js";
import { listenForPackages } from "../../src/supervisor/packages.js";
import { OperationQueue } from "../../src/supervisor/queue.js";
import type { OfferResult } from "../../src/upgrade/manager.js";
import { FakeClock, settle } from "../support/fake-clock.js";

function setUp(results: OfferResult[]) {
  const yaml = `server:\n  endpoint: ws://127.0.0.1:1/v1/opamp\ncapabilities:\n  accepts_packages: true\n  reports_package_statuses: true\nagent:\n  executable: /bin/true\n  package:\n    retry_interval: 2s\n    verifier:\n      insecure_accept_unsigned_packages: true\nstorage:\n  directory: /tmp/unused\n`;
  const config = resolveSupervisorConfig(yaml, "/tmp/supervisor.yaml", {});
  const clock = new FakeClock();
  const deps = createDefaultDeps({ clock, logger: silentLogger, random: () => 0.5 });
  const lifetime = new AbortController();
  const queue = new OperationQueue({ logger: silentLogger, clock, signal: lifetime.signal, defaultDeadlineMs: 60_000 });
  const client = new EventEmitter();
  const handled: PackagesOffer[] = [];
  const packages = {
    report: () => Promise.resolve(),
    handleOffer: (offer: PackagesOffer): Promise<OfferResult> => {
      handled.push(offer);
      return Promise.resolve(results.shift() ?? "settled");
    },
  };
  listenForPackages({ config, deps, client: client as never, queue, packages: packages as never, signal: lifetime.signal });
  return { clock, client, handled, lifetime };
}

const offer = (n: number): PackagesOffer => ({ allPackagesHash: new Uint8Array([n]), packages: [] }) as unknown as PackagesOffer;

describe("package install retries after a storage fault", () => {
  it("tries the same offer again after 2 s, then 4 s, and stops once it settles", async () => {
    const t = setUp(["retry", "retry", "settled"]);
    const first = offer(1);
    t.client.emit("packagesAvailable", first);
    await settle();
    expect(t.handled).toEqual([first]);
    await t.clock.advance(1_999);
    expect(t.handled).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.handled).toEqual([first, first]);
    await t.clock.advance(3_999);
    expect(t.handled).toHaveLength(2);
    await t.clock.advance(1);
    expect(t.handled).toEqual([first, first, first]);
    await t.clock.advance(60_000);
    expect(t.handled).toHaveLength(3);
    t.lifetime.abort();
  });

  it("drops the pending retry when a newer offer arrives", async () => {
    const t = setUp(["retry", "settled"]);
    const first = offer(1);
    const second = offer(2);
    t.client.emit("packagesAvailable", first);
    await settle();
    t.client.emit("packagesAvailable", second);
    await settle();
    await t.clock.advance(120_000);
    expect(t.handled).toEqual([first, second]);
    t.lifetime.abort();
  });
});
