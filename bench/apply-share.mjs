// The supervisor's own share of a remote-config apply, in process and without a collector:
// the real transaction (received copy, APPLYING, composition, candidate, swap, last working,
// audit line, APPLIED; storage in a temp dir on this disk) over the fake driver of the unit
// tests. Timed between the transaction's checkpoints, leaving out what the collector spends:
// validate (timed around the driver call) and the switch plus health window (config-swapped ->
// config-applied, on the fake clock). Not included: decoding the message and the loopback.
// Knobs: BENCH_APPLIES (100) per mode; TMPDIR picks the disk.
import { makeHarness, marked, offer } from "../.bench-build/test/supervisor/harness.js";
import { applyRemoteConfig } from "../.bench-build/src/supervisor/remote-config.js";
import { figure } from "./lib.mjs";

const APPLIES = Math.min(Number(process.env.BENCH_APPLIES ?? 100), 250); // the offer hash is one byte

export async function run() {
  const figures = [];
  for (const [mode, hup] of [
    ["restart", false],
    ["sighup", true],
  ]) {
    const t = await makeHarness({ hup });
    const marks = new Map();
    // The fake clock moves only inside the window (config-swapped -> config-applied), so the
    // loop that moves it does not compete with the measured steps for the event loop.
    let windowOpened = () => undefined;
    t.ctx.hooks = {
      checkpoint: (step) => {
        marks.set(step, performance.now());
        if (step === "config-swapped") windowOpened();
      },
    };
    const validate = t.driver.validate.bind(t.driver);
    let validateMs = 0;
    t.driver.validate = async (...args) => {
      const started = performance.now();
      try {
        return await validate(...args);
      } finally {
        validateMs = performance.now() - started;
      }
    };
    const before = [];
    const swap = [];
    const after = [];
    const total = [];
    try {
      for (let i = 1; i <= APPLIES; i++) {
        marks.clear();
        let end = 0;
        const swapped = new Promise((resolve) => (windowOpened = resolve));
        const t0 = performance.now();
        const applying = applyRemoteConfig(t.ctx, offer(i, { "remote.yaml": marked(`m${i}`) })).finally(
          () => (end = performance.now()),
        );
        await Promise.race([applying, swapped]);
        while (end === 0 && !marks.has("config-applied")) {
          await t.clock.advance(50);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const result = await applying;
        if (result !== "settled" || !marks.has("config-proven")) throw new Error(`apply ${i} did not go through`);
        before.push(marks.get("config-validated") - t0 - validateMs);
        swap.push(marks.get("config-swapped") - marks.get("config-validated"));
        after.push(end - marks.get("config-applied"));
        total.push(before.at(-1) + swap.at(-1) + after.at(-1));
      }
    } finally {
      await t.close();
    }
    const extra = { mode, applies: APPLIES, tmpdir: process.env.TMPDIR ?? "/tmp" };
    figures.push(
      figure(`supervisor's own share of an apply, in process (${mode})`, "ms", total, extra),
      figure(`  received copy + APPLYING + composition + candidate (${mode})`, "ms", before, extra),
      figure(`  swap: rename + directory fsync (${mode})`, "ms", swap, extra),
      figure(`  last working + audit line + APPLIED (${mode})`, "ms", after, extra),
    );
  }
  return figures;
}
