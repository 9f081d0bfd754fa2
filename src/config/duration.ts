/**
 * Go-style durations ("250ms", "1s", "1m30s", "1h") or plain integers meaning milliseconds.
 * The result is whole milliseconds; a fraction of a millisecond rounds up so that a non-zero
 * duration never becomes zero.
 */

/** Node timers overflow above 2^31-1 ms (~24.8 days) and fire at once, so larger is refused. */
export const MAX_DURATION_MS = 2_147_483_647;

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

// Greek mu (U+03BC) escaped: one character above U+00FF in the bundle makes V8 keep the
// whole bundle's source two bytes per character (scripts/bundle.mjs checks for it).
const PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|\u03bcs|ms|s|m|h)/;

/**
 * Parses a duration. Strings need a unit (except "0"); numbers are integer milliseconds.
 * `maxMs` raises the cap for durations that are compared, never slept on (e.g. a
 * certificate renewal window of 30 days).
 */
export function parseDuration(input: unknown, maxMs: number = MAX_DURATION_MS): DurationResult {
  if (typeof input === "number") {
    if (!Number.isInteger(input)) {
      return { ok: false, error: `a number of milliseconds must be an integer, got ${input}` };
    }
    return checkRange(input, maxMs);
  }
  if (typeof input !== "string") {
    return { ok: false, error: 'expected a duration such as "500ms", "5s" or "1m30s"' };
  }
  const text = input.trim();
  if (text === "") return { ok: false, error: "empty duration" };
  if (text.startsWith("-")) return { ok: false, error: `duration must not be negative: "${text}"` };
  const body = text.startsWith("+") ? text.slice(1) : text;
  if (body === "0") return { ok: true, ms: 0 };
  if (/^\d+(\.\d+)?$/.test(body)) {
    return {
      ok: false,
      error: `missing unit in duration "${text}" (use e.g. "${body}ms", or a plain YAML number for milliseconds)`,
    };
  }
  let rest = body;
  let total = 0;
  while (rest !== "") {
    const match = PART.exec(rest);
    if (!match) {
      return {
        ok: false,
        error: `invalid duration "${text}" (expected a number and unit from ns, us, ms, s, m, h, e.g. "1m30s")`,
      };
    }
    const [whole, amount = "", unit = ""] = match;
    total += Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total)) return { ok: false, error: `invalid duration "${text}"` };
  // Round away float noise (1.1 * 1000 = 1100.0000000000002) before rounding up to whole ms.
  return checkRange(Math.ceil(Math.round(total * 1e6) / 1e6), maxMs);
}

function checkRange(ms: number, maxMs: number): DurationResult {
  if (ms < 0) return { ok: false, error: `duration must not be negative, got ${ms}` };
  if (ms > maxMs) {
    const about = maxMs === MAX_DURATION_MS ? " (~24.8 days)" : "";
    return { ok: false, error: `duration must be at most ${maxMs}ms${about}, got ${ms}ms` };
  }
  return { ok: true, ms };
}
