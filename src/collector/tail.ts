/**
 * The one way a collector log tail is cut for a status message or a health error: the end
 * is kept (that is where the error is), marked with "…" when something was dropped.
 */

/** Cap on the collector log tail carried in a FAILED or INSTALL_FAILED message. */
export const TAIL_IN_STATUS_BYTES = 2048;

export function boundTail(text: string, maxBytes: number = TAIL_IN_STATUS_BYTES): string {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed);
  if (bytes.length <= maxBytes) return trimmed;
  // Cutting inside a multi-byte character leaves U+FFFD at the start: drop it.
  return `…${bytes
    .subarray(bytes.length - maxBytes)
    .toString("utf8")
    .replace(/^\uFFFD+/, "")}`;
}

/** "<reason>\ncollector log tail:\n<tail>", or the reason alone when there is no output. */
export function withTail(reason: string, tail: string): string {
  const bounded = boundTail(tail);
  return bounded ? `${reason}\ncollector log tail:\n${bounded}` : reason;
}
