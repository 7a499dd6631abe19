/** Model page: stake, pending withdrawal and when it can be taken at the latest, receipts of its submissions, and
 * charts of CORR, MMC, payout/burn and stake at risk per round. */

import { api, type Info, type Model, type ModelRound, type Receipt, type TokenInfo } from "../app/api";
import { roundChart } from "../app/charts";
import { clock, countdown } from "../app/clock";
import { download, h, link, replace } from "../app/dom";
import { formatTime, shortHex } from "../app/format";
import type { Route } from "../app/router";
import { amount, badge, errorBox, loading, notice, score, stat } from "../app/ui";
import { receiptProblem } from "../chain/typed";

const COLORS = { corr: "#2563eb", mmc: "#d97706", payout: "#16a34a", burn: "#dc2626", stake: "#7c3aed" };

/** Token amount (decimal string, smallest unit) as a float of whole tokens, for charts only. */
function tokens(value: string | null | undefined, token: TokenInfo): number | null {
  if (value === null || value === undefined) return null;
  return Number(BigInt(value)) / 10 ** token.decimals;
}

export async function render(root: HTMLElement, route: Route): Promise<void> {
  const id = route.modelId!;
  replace(root, h("h1", null, `Model ${id}`), loading(`model ${id}`));
  let model: Model;
  let info: Info;
  try {
    const [m, i, health] = await Promise.all([api.model(id), api.info(), api.health()]);
    clock.sync(health.chain_time, health.block);
    model = m;
    info = i;
  } catch (err) {
    replace(root, h("h1", null, `Model ${id}`), errorBox(err, `Model ${id} could not be loaded.`));
    return;
  }
  const t = info.token;
  const scored = model.rounds.filter((r) => r.corr !== null || r.payout !== null);
  const rounds = scored.map((r) => r.round);

  replace(root,
    h("h1", null, `Model ${model.model_id}`),
    h("p", { class: "muted" }, "Owned by ", h("code", null, model.owner), " · ",
      link(`/?q=${model.owner}`, "all models of this owner")),
    h("div", { class: "stats" },
      stat("Stake (settled)", amount(model.stake, t), ` ${t.symbol}`),
      withdrawalStat(model, t),
      stat("Settled through", model.settled_through !== undefined ? `round ${model.settled_through}` : "—"),
      stat("Payout applied", amount(model.settled_payout ?? null, t), ` ${t.symbol}`),
      stat("Burn applied", amount(model.settled_burn ?? null, t), ` ${t.symbol}`)),
    scored.some((r) => r.status === "proposed")
      ? notice("info", "Results of rounds marked proposed are still in their challenge window and may be vetoed.")
      : null,
    h("div", { class: "charts" },
      roundChart({ title: "CORR and MMC per round", rounds, series: [
        { label: "CORR", values: scored.map((r) => r.corr), color: COLORS.corr },
        { label: "MMC", values: scored.map((r) => r.mmc), color: COLORS.mmc },
      ] }),
      roundChart({ title: `Payout and burn per round (${t.symbol})`, rounds, unit: t.symbol, digits: 2, series: [
        { label: "payout", values: scored.map((r) => tokens(r.payout, t)), color: COLORS.payout, bars: "left" },
        { label: "burn", values: scored.map((r) => { const b = tokens(r.burn, t); return b === null ? null : -b; }),
          color: COLORS.burn, bars: "right" },
      ] }),
      roundChart({ title: `Stake at risk per round (${t.symbol})`, rounds, unit: t.symbol, digits: 2, series: [
        { label: "at risk", values: scored.map((r) => tokens(r.stake_at_risk, t)), color: COLORS.stake },
      ] })),
    h("h2", null, "Rounds and receipts"),
    roundsTable(model, info));
}

function withdrawalStat(model: Model, t: TokenInfo): HTMLElement {
  const w = model.withdrawal;
  if (!w) return stat("Pending withdrawal", "none");
  const when = w.withdrawable
    ? h("div", { class: "pos" }, "can be withdrawn now")
    : w.available_at_latest
      ? h("div", null, "at the latest by ", formatTime(w.available_at_latest), " (in ",
          countdown(w.available_at_latest, "now"), ")")
      : h("div", null, `once settled through round ${w.after_round}`);
  return stat("Pending withdrawal", amount(w.amount, t), ` ${t.symbol}`,
    h("div", { class: "muted small" }, `at risk through round ${w.after_round}`), when);
}

function roundsTable(model: Model, info: Info): HTMLElement {
  if (model.rounds.length === 0) return notice("info", "This model has no submissions or results yet.");
  const t = info.token;
  const rows = [...model.rounds].reverse().map((r) => h("tr", { "data-round": r.round },
    h("td", { class: "num" }, String(r.round)),
    h("td", null, r.status ? badge(r.status) : ""),
    h("td", null, r.predictions_hash ? h("code", { title: r.predictions_hash }, shortHex(r.predictions_hash)) : "—"),
    h("td", null, formatTime(r.received_at)),
    h("td", { class: "num" }, score(r.corr)), h("td", { class: "num" }, score(r.mmc)),
    h("td", { class: "num" }, amount(r.stake_at_risk, t)),
    h("td", { class: "num" }, amount(r.payout, t)), h("td", { class: "num" }, amount(r.burn, t)),
    h("td", null, r.receipt ? receiptCell(r, r.receipt, info) : "—")));
  return h("div", { class: "table-wrap" }, h("table", { class: "rounds-table" },
    h("thead", null, h("tr", null, ["Round", "Status", "Predictions", "Received (chain time)", "CORR", "MMC",
      `At risk`, "Payout", "Burn", "Receipt"].map((c, i) => h("th", { scope: "col", class: i >= 4 && i <= 8 ? "num" : null }, c)))),
    h("tbody", null, rows)));
}

function receiptCell(r: ModelRound, receipt: Receipt, info: Info): HTMLElement {
  const check = h("button", { type: "button", class: "ghost small" }, "Check");
  const result = h("span", { class: "small" });
  check.addEventListener("click", async () => {
    const problem = await receiptProblem(receipt, {
      operator: info.operator, chainId: info.chain_id, tournament: info.tournament });
    result.className = problem ? "small neg" : "small pos";
    result.textContent = problem ? ` Not genuine: ${problem}.` : " ✓ signed by the operator";
  });
  const save = h("button", { type: "button", class: "ghost small" }, "Download");
  save.addEventListener("click", () =>
    download(`receipt-round${r.round}-model${receipt.model_id}.json`, JSON.stringify(receipt, null, 2) + "\n"));
  return h("span", { class: "receipt" }, save, " ", check, result);
}
