import { describe, expect, it } from "vitest";
import { CollectorInventory } from "../../src/collector/inventory.js";

const YAML = (extensions: string[]): string =>
  `receivers:\n    - name: otlp\nextensions:\n${extensions.map((e) => `    - name: ${e}\n`).join("")}`;

function counting(output: () => Promise<string>) {
  const calls: AbortSignal[] = [];
  return {
    calls,
    driver: {
      components: (signal: AbortSignal) => {
        calls.push(signal);
        return output();
      },
    },
  };
}

describe("CollectorInventory", () => {
  const life = new AbortController().signal;

  it("runs `components` once for all its readers, under the collector's lifetime, and again after forget()", async () => {
    const d = counting(() => Promise.resolve(YAML(["health_check", "healthcheckv2"])));
    const inventory = new CollectorInventory(d.driver, life);
    const caller = new AbortController();
    const [support, text] = await Promise.all([inventory.support(caller.signal), inventory.components(caller.signal)]);
    expect(support).toEqual({ healthcheckV2: true });
    expect(text).toContain("healthcheckv2");
    expect(d.calls).toEqual([life]);
    inventory.forget();
    await inventory.support(caller.signal);
    expect(d.calls).toHaveLength(2);
  });

  it("says no healthcheckv2 for a build without it, one without the command, or output it cannot read", async () => {
    const v1 = new CollectorInventory(counting(() => Promise.resolve(YAML(["health_check"]))).driver, life);
    expect(await v1.support(life)).toEqual({ healthcheckV2: false });
    const failing = counting(() => Promise.reject(new Error("unknown command")));
    const broken = new CollectorInventory(failing.driver, life);
    expect(await broken.support(life)).toEqual({ healthcheckV2: false });
    await expect(broken.components(life)).rejects.toThrow(/unknown command/);
    expect(failing.calls).toHaveLength(1); // the same binary fails the same way: not run again
    const garbage = new CollectorInventory(counting(() => Promise.resolve(": not yaml :")).driver, life);
    expect(await garbage.support(life)).toEqual({ healthcheckV2: false });
    const sidecar = new CollectorInventory({}, life);
    expect(sidecar.available).toBe(false);
    expect(await sidecar.support(life)).toEqual({ healthcheckV2: false });
    await expect(sidecar.components(life)).rejects.toThrow(/cannot run `components`/);
  });

  it("lets one caller give up without cancelling the shared read", async () => {
    let finish: (text: string) => void = () => undefined;
    const d = counting(() => new Promise<string>((resolve) => (finish = resolve)));
    const inventory = new CollectorInventory(d.driver, life);
    const impatient = new AbortController();
    const first = inventory.components(impatient.signal);
    const second = inventory.components(life);
    impatient.abort(new Error("gave up"));
    await expect(first).rejects.toThrow(/gave up/);
    const impatientSupport = new AbortController();
    const support = inventory.support(impatientSupport.signal);
    impatientSupport.abort(new Error("gave up"));
    expect(await support).toEqual({ healthcheckV2: false }); // this caller composes without v2
    finish(YAML(["healthcheckv2"]));
    await expect(second).resolves.toContain("healthcheckv2");
    expect(await inventory.support(life)).toEqual({ healthcheckV2: true }); // the shared answer is not poisoned
    expect(d.calls).toHaveLength(1);
  });
});
