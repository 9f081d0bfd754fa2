/**
 * The rollout gate: a new config or binary counts as working once `passesRequired`
 * consecutive checks pass within the first `windowSize` checks. Pure, so the rule is
 * tested without a collector.
 */
export type WindowVerdict = "passed" | "failed" | "pending";

export interface WindowRule {
  passesRequired: number;
  windowSize: number;
}

export function judgeWindow(results: readonly boolean[], rule: WindowRule): WindowVerdict {
  let run = 0;
  for (let i = 0; i < results.length && i < rule.windowSize; i++) {
    run = results[i] ? run + 1 : 0;
    if (run >= rule.passesRequired) return "passed";
  }
  const left = rule.windowSize - Math.min(results.length, rule.windowSize);
  // Fail as soon as the streak can no longer be reached, not after a fixed timer.
  return run + left >= rule.passesRequired ? "pending" : "failed";
}
