/** The chain's clock in the browser. Deadlines are judged by block timestamps, which can be far from the
 * reader's wall clock (a local chain whose time was moved forward, a skewed laptop), so countdowns run from the
 * last chain time the service reported plus the wall-clock time elapsed since, and re-sync on every report. */

import { h } from "./dom";
import { formatDuration } from "./format";

export class ChainClock {
  private offset: number | null = null; // chain time minus wall time, in seconds
  block: number | null = null;

  constructor(private readonly wallNow: () => number = () => Date.now() / 1000) {}

  sync(chainTime: number, block?: number): void {
    this.offset = chainTime - this.wallNow();
    if (block !== undefined) this.block = block;
  }

  get synced(): boolean {
    return this.offset !== null;
  }

  /** Estimated current chain time (unix seconds), or null before the first sync. */
  now(): number | null {
    return this.offset === null ? null : this.wallNow() + this.offset;
  }

  /** Seconds until `target` by the chain's clock (negative once passed), or null before the first sync. */
  until(target: number): number | null {
    const now = this.now();
    return now === null ? null : target - now;
  }
}

export const clock = new ChainClock();

/** Text of a countdown to `target`: "closes in 1 h 02 min" style, `past` once it has passed. */
export function countdownText(remaining: number | null, past: string): string {
  if (remaining === null) return "…";
  return remaining > 0 ? formatDuration(remaining) : past;
}

/** A span that counts down to `target` (chain time) and reads `past` when it has passed; updated by the ticker. */
export function countdown(target: number, past = "now"): HTMLSpanElement {
  const span = h("span", { class: "countdown", "data-until": target, "data-past": past });
  span.textContent = countdownText(clock.until(target), past);
  return span;
}

let ticker: number | null = null;

/** Updates every countdown on the page once a second (one timer for all of them). */
export function startTicker(): void {
  if (ticker !== null) return;
  ticker = window.setInterval(() => {
    for (const el of document.querySelectorAll<HTMLElement>("[data-until]")) {
      const target = Number(el.dataset.until);
      const text = countdownText(clock.until(target), el.dataset.past ?? "now");
      if (el.textContent !== text) el.textContent = text;
    }
  }, 1000);
}
