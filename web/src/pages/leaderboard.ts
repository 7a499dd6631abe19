/** Leaderboard: every model with owner, stake, latest and rolling CORR and MMC, cumulative payout and burn. */

import { api, type Info, type Leaderboard } from "../app/api";
import {
  pageOf, paramsToQuery, prepare, queryToParams, sortRows,
  type BoardQuery, type BoardRow, type SortKey,
} from "../app/board";
import { h, link, replace } from "../app/dom";
import { formatInteger, shortHex } from "../app/format";
import { setParams, type Route } from "../app/router";
import { amount, errorBox, loading, score } from "../app/ui";

interface Column {
  key: SortKey;
  label: string;
  title: string;
  numeric: boolean;
  cell: (r: BoardRow, info: Info) => Node | string;
}

function columns(board: Leaderboard): Column[] {
  const latest = board.latest_round === null ? "" : ` (round ${board.latest_round} or the model's last scored round)`;
  const rolling = `mean over the model's scored rounds among the last ${board.rolling_window}`;
  return [
    { key: "model_id", label: "Model", title: "Model id", numeric: false,
      cell: (r) => link(`/model/${r.row.model_id}`, `#${r.row.model_id}`) },
    { key: "owner", label: "Owner", title: "The address that owns the model", numeric: false,
      cell: (r) => link(`/?q=${r.row.owner}`, h("code", { title: `${r.row.owner}: show this owner's models` },
        shortHex(r.row.owner))) },
    { key: "stake", label: "Stake", title: "Settled stake on chain", numeric: true,
      cell: (r, info) => amount(r.row.stake, info.token) },
    { key: "corr", label: "CORR", title: `Latest CORR${latest}`, numeric: true, cell: (r) => score(r.row.corr) },
    { key: "mmc", label: "MMC", title: `Latest MMC${latest}`, numeric: true, cell: (r) => score(r.row.mmc) },
    { key: "corr_rolling", label: `CORR ${board.rolling_window}r`, title: `CORR, ${rolling}`, numeric: true,
      cell: (r) => score(r.row.corr_rolling) },
    { key: "mmc_rolling", label: `MMC ${board.rolling_window}r`, title: `MMC, ${rolling}`, numeric: true,
      cell: (r) => score(r.row.mmc_rolling) },
    { key: "cumulative_payout", label: "Payout", title: "Cumulative payout through the last active round",
      numeric: true, cell: (r, info) => amount(r.row.cumulative_payout, info.token) },
    { key: "cumulative_burn", label: "Burn", title: "Cumulative burn through the last active round", numeric: true,
      cell: (r, info) => amount(r.row.cumulative_burn, info.token) },
  ];
}

/** The last leaderboard fetched, reused for a short while: following an owner link re-renders the page, and
 * 10,000 rows need not travel again for that. */
const REUSE_MS = 30_000;
let cached: { at: number; board: Promise<Leaderboard> } | null = null;

function fetchBoard(): Promise<Leaderboard> {
  if (!cached || Date.now() - cached.at > REUSE_MS) {
    const board = api.leaderboard();
    cached = { at: Date.now(), board };
    board.catch(() => { if (cached?.board === board) cached = null; });
  }
  return cached.board;
}

export async function render(root: HTMLElement, route: Route): Promise<void> {
  replace(root, h("h1", null, "Leaderboard"), loading("the leaderboard"));
  let board: Leaderboard;
  let info: Info;
  try {
    [board, info] = await Promise.all([fetchBoard(), api.info()]);
  } catch (err) {
    replace(root, h("h1", null, "Leaderboard"), errorBox(err, "The leaderboard could not be loaded."));
    return;
  }
  const all = prepare(board.models);
  let query: BoardQuery = paramsToQuery(route.params);
  let sortedBy = "";
  const cols = columns(board);

  const summary = h("p", { class: "muted" },
    `${formatInteger(board.models.length)} models`,
    board.latest_round !== null ? ` · latest results: round ${board.latest_round}` : " · no results published yet",
    board.cumulative_through !== null ? ` · payouts and burns through active round ${board.cumulative_through}` : "",
    ` · chain block ${formatInteger(board.block)}`);

  const search = h("input", {
    type: "search", placeholder: "Model id or owner address", "aria-label": "Search models", value: query.q,
    class: "search",
  });
  const size = h("select", { "aria-label": "Rows per page" },
    [25, 50, 100, 250].map((n) => h("option", { value: n, selected: n === query.pageSize }, `${n} per page`)));
  const count = h("span", { class: "muted count", "aria-live": "polite" });
  const head = h("tr");
  const body = h("tbody");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const table = h("table", { class: "board" }, h("thead", null, head), body);

  function update(changed: Partial<BoardQuery>): void {
    query = { ...query, ...changed };
    draw();
    setParams(queryToParams(query));
  }

  function draw(): void {
    const sortKey = `${query.sort}:${query.desc}`;
    if (sortKey !== sortedBy) {
      sortRows(all, query.sort, query.desc);
      sortedBy = sortKey;
    }
    const page = pageOf(all, query);
    query.page = page.page;
    replace(head, h("th", { class: "num", scope: "col", title: "Rank in the current order" }, "#"),
      cols.map((c) => {
        const active = c.key === query.sort;
        const button = h("button", { type: "button", class: "sort", title: c.title },
          c.label, active ? (query.desc ? " ▼" : " ▲") : "");
        button.addEventListener("click", () =>
          update({ sort: c.key, desc: active ? !query.desc : c.numeric, page: 1 }));
        return h("th", { scope: "col", class: c.numeric ? "num" : null,
          "aria-sort": active ? (query.desc ? "descending" : "ascending") : "none" }, button);
      }));
    replace(body, page.rows.length
      ? page.rows.map((r) => h("tr", { "data-model": r.row.model_id },
          h("td", { class: "num muted" }, formatInteger(r.rank)),
          cols.map((c) => h("td", { class: c.numeric ? "num" : null }, c.cell(r, info)))))
      : h("tr", null, h("td", { colspan: cols.length + 1, class: "muted empty" },
          query.q ? `No model id or owner matches "${query.q}".` : "No models are registered yet.")));
    const first = page.matched ? (page.page - 1) * query.pageSize + 1 : 0;
    const last = Math.min(page.page * query.pageSize, page.matched);
    count.textContent = page.matched === page.total
      ? `Showing ${formatInteger(first)}–${formatInteger(last)} of ${formatInteger(page.total)}`
      : `Showing ${formatInteger(first)}–${formatInteger(last)} of ${formatInteger(page.matched)} matching (of ${formatInteger(page.total)})`;
    const go = (p: number, label: string, text: string) => {
      const b = h("button", { type: "button", class: "ghost", "aria-label": label,
        disabled: p < 1 || p > page.pages || p === page.page }, text);
      b.addEventListener("click", () => update({ page: p }));
      return b;
    };
    replace(pager, go(1, "First page", "«"), go(page.page - 1, "Previous page", "‹"),
      h("span", { class: "page-no" }, `Page ${formatInteger(page.page)} of ${formatInteger(page.pages)}`),
      go(page.page + 1, "Next page", "›"), go(page.pages, "Last page", "»"));
  }

  let typing: number | undefined;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => update({ q: search.value, page: 1 }), 120);
  });
  size.addEventListener("change", () => update({ pageSize: Number(size.value), page: 1 }));

  draw();
  replace(root, h("h1", null, "Leaderboard"), summary,
    h("div", { class: "toolbar" }, search, size, count),
    h("div", { class: "table-wrap" }, table), pager);
  // Marked after the frame that shows the table is painted (rAF, then a task): what "first render" measures.
  requestAnimationFrame(() => setTimeout(() => performance.mark("leaderboard-rendered"), 0));
}
