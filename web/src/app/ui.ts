/** Small shared pieces of the pages: amounts, scores, status badges, error boxes. */

import { ApiError, type TokenInfo } from "./api";
import { h, type Child } from "./dom";
import { formatScore, formatUnits } from "./format";

/** An amount of the stake token; the exact value (smallest unit) is in the tooltip. */
export function amount(value: string | bigint | null | undefined, token: TokenInfo, digits = 2): HTMLSpanElement {
  if (value === null || value === undefined) return h("span", { class: "num muted" }, "—");
  const text = formatUnits(value, token.decimals, digits);
  return h("span", { class: "num", title: `${formatUnits(value, token.decimals, token.decimals)} ${token.symbol}` },
    text);
}

export function score(value: number | null | undefined): HTMLSpanElement {
  const cls = value === null || value === undefined ? "num muted" : value > 0 ? "num pos" : value < 0 ? "num neg" : "num";
  return h("span", { class: cls }, formatScore(value));
}

const STATUS_WORDS: Record<string, string> = {
  open: "open", closed: "closed, awaiting results", proposed: "proposed", vetoed: "vetoed", active: "active",
  lapsed: "lapsed", pending: "pending", none: "not opened",
};

export function badge(status: string): HTMLSpanElement {
  const known = status in STATUS_WORDS;
  return h("span", { class: `badge status-${known ? status : "other"}` }, STATUS_WORDS[status] ?? status);
}

/** An error in words: the message, and every problem when the service listed them. */
export function errorBox(err: unknown, title?: string): HTMLDivElement {
  const message = err instanceof Error ? err.message : String(err);
  const problems = err instanceof ApiError ? err.problems : [];
  return h("div", { class: "notice error", role: "alert" },
    title ? h("strong", null, title, " ") : null,
    h("span", null, message),
    problems.length ? h("ul", { class: "problems" }, problems.map((p) => h("li", null, p))) : null);
}

export function notice(kind: "info" | "ok" | "warn", ...children: Child[]): HTMLDivElement {
  return h("div", { class: `notice ${kind}`, role: kind === "warn" ? "alert" : "status" }, ...children);
}

export function loading(what: string): HTMLParagraphElement {
  return h("p", { class: "muted loading" }, `Loading ${what}…`);
}

export function stat(label: string, ...value: Child[]): HTMLDivElement {
  return h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, ...value));
}
