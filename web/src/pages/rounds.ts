/** Rounds: the open round's countdown by chain time, every round's status, each proposal's audit verdict, the
 * bundle's files and the command that reproduces the verdict. */

import { api, type Info, type Proposal, type Round, type Rounds } from "../app/api";
import { clock, countdown } from "../app/clock";
import { copyButton, h, link, replace, safeHref } from "../app/dom";
import { formatInteger, formatTime, shortHex } from "../app/format";
import { amount, badge, errorBox, loading, notice } from "../app/ui";

const REFRESH_MS = 30_000;

export function render(root: HTMLElement): () => void {
  replace(root, h("h1", null, "Rounds"), loading("the rounds"));
  let stopped = false;
  let timer: number | undefined;

  async function refresh(first: boolean): Promise<void> {
    try {
      const [rounds, info] = await Promise.all([api.rounds(64), api.info()]);
      if (stopped) return;
      clock.sync(rounds.chain_time, rounds.block);
      // Keep what the reader unfolded open across refreshes.
      const unfolded = new Set([...root.querySelectorAll("details[open]")].map((d) => d.closest("[data-key]")?.getAttribute("data-key")));
      replace(root, ...page(rounds, info));
      for (const key of unfolded) {
        if (key) root.querySelector(`[data-key="${CSS.escape(key)}"] details`)?.setAttribute("open", "");
      }
    } catch (err) {
      if (stopped) return;
      // A failed refresh keeps the rounds already shown and says so above them.
      if (first) replace(root, h("h1", null, "Rounds"), errorBox(err, "The rounds could not be loaded."));
      else root.prepend(errorBox(err, "Refreshing failed; the figures below may be out of date."));
    }
    if (!stopped) timer = window.setTimeout(() => void refresh(false), REFRESH_MS);
  }
  void refresh(true);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function page(data: Rounds, info: Info): Node[] {
  const nodes: Node[] = [h("h1", null, "Rounds"),
    h("p", { class: "muted" }, `Times are the chain's clock: block ${formatInteger(data.block)} at `,
      formatTime(data.chain_time), ". Countdowns follow it.")];
  if (data.open.length === 0) {
    nodes.push(notice("info", "No round is open for submissions right now."));
  }
  for (const r of data.open) {
    nodes.push(h("section", { class: "card open-round", "data-round": r.round },
      h("h2", null, `Round ${r.round} is open`),
      h("p", { class: "big" }, "Submissions close in ", countdown(r.closes_at, "now (closing)")),
      h("p", { class: "muted" }, "Deadline ", formatTime(r.closes_at), " (chain time)."),
      h("p", null, link(`/wallet?round=${r.round}`, "Submit predictions"), " · ",
        h("a", { href: `rounds/${r.round}/live`, download: true }, "download the live data"))));
  }
  const recent = data.recent.filter((r) => r.status !== "open" || !data.open.some((o) => o.round === r.round));
  if (recent.length) {
    nodes.push(h("h2", null, "All rounds"), ...recent.map((r) => roundCard(r, info)));
  }
  return nodes;
}

function roundCard(r: Round, info: Info): HTMLElement {
  const facts: Node[] = [];
  if (r.status === "open") facts.push(h("span", null, "closes in ", countdown(r.closes_at, "now")));
  if (r.closed_at) facts.push(h("span", null, "closed ", formatTime(r.closed_at)));
  if (r.status === "proposed") {
    facts.push(h("span", null, "challenge window ends in ",
      countdown(r.activates_at, "now: anyone may activate the root"), ` (${formatTime(r.activates_at)})`));
  }
  if ((r.status === "closed" || r.status === "vetoed" || r.status === "proposed") && r.lapses_at) {
    facts.push(h("span", null, "lapses with a zero result in ", countdown(r.lapses_at, "now"), " unless activated"));
  }
  if (r.status === "closed") facts.push(h("span", null, "scoring: waiting for the operator's proposal"));
  if (r.status === "vetoed") facts.push(h("span", null, "the guardian vetoed the root; a new proposal may follow"));
  if (r.status === "lapsed") facts.push(h("span", null, "no root was activated in time: the round's result is zero"));
  const proposals = r.proposals ?? [];
  return h("section", { class: "card round", "data-round": r.round, "data-status": r.status },
    h("header", { class: "round-head" }, h("h3", null, `Round ${r.round}`), badge(r.status),
      h("span", { class: "facts" }, ...facts.flatMap((f, i) => (i ? [" · ", f] : [f])))),
    proposals.length
      ? h("ol", { class: "proposals" }, proposals.map((p) => proposalItem(r, p, info)))
      : null,
    r.status !== "open" && r.status !== "closed"
      ? h("p", { class: "reproduce" }, "Reproduce the verdict: ", h("code", null, `tourney verify --round ${r.round}`),
          " ", copyButton(`tourney verify --round ${r.round}`))
      : null);
}

function proposalItem(r: Round, p: Proposal, info: Info): HTMLElement {
  const state = p.state === "pending" && r.status === "proposed" ? "proposed" : p.state;
  const files = Object.entries(p.files);
  return h("li", { class: "proposal", "data-seq": p.seq, "data-state": p.state, "data-key": `${r.round}:${p.seq}` },
    h("div", { class: "proposal-head" },
      h("strong", null, `Proposal ${p.seq + 1}`), " ", badge(state), " root ",
      h("code", { title: p.root }, shortHex(p.root, 10, 6)), h("span", { class: "muted" }, ` · proposed ${formatTime(p.proposed_at)}`),
      p.vetoed_at ? h("span", { class: "muted" }, ` · vetoed ${formatTime(p.vetoed_at)}`) : null),
    verdictLine(p),
    h("div", { class: "totals" },
      "paid ", amount(p.totals.round_payout, info.token), ` ${info.token.symbol} · burned `,
      amount(p.totals.round_burn, info.token), ` ${info.token.symbol} · at risk `,
      amount(p.totals.stake_at_risk, info.token), ` ${info.token.symbol}`),
    files.length
      ? h("div", { class: "files" }, "Bundle: ",
          ...files.flatMap(([name, url], i) => {
            const href = safeHref(url);
            return [i ? " · " : "", href ? h("a", { href, download: `${r.round}-${name}` }, name) : name];
          }))
      : h("div", { class: "files muted" }, "The bundle's files are not available from this service."));
}

function verdictLine(p: Proposal): HTMLElement {
  const v = p.verdict;
  if (!v) return h("div", { class: "verdict unknown" }, "Not audited yet.");
  if (v.ok) {
    return h("div", { class: "verdict ok" }, "✓ Verified: the auditor recomputed this root from the bundle and the chain",
      h("span", { class: "muted" }, ` (${formatTime(v.checked_at)})`), ".");
  }
  const models = v.models.length
    ? h("span", null, " Models that differ: ", ...v.models.flatMap((m, i) =>
        [i ? ", " : "", /^\d+$/.test(m) ? link(`/model/${m}`, m) : m]), ".")
    : null;
  return h("div", { class: "verdict bad" },
    h("strong", null, `✗ Does not verify: ${v.differences_count} difference${v.differences_count === 1 ? "" : "s"}.`),
    models,
    v.differences.length
      ? h("details", null, h("summary", null, "What differs"),
          h("ul", null, v.differences.map((d) => h("li", null,
            `${d.scope} ${d.subject}: ${d.field} recorded ${String(d.recorded)}, recomputed ${String(d.recomputed)}`))))
      : null,
    v.notes.length ? h("ul", { class: "muted" }, v.notes.map((n) => h("li", null, n))) : null);
}
