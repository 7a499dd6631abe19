/** The leaderboard's data model: sort, search and page over every model, in memory. Pure (unit-tested); the page
 * only renders the slice it is given, so 10,000 models cost one sort and one filter per change, and the DOM only
 * ever holds one page of rows. */

import type { LeaderboardRow } from "./api";

export const SORT_KEYS = [
  "model_id", "owner", "stake", "corr", "mmc", "corr_rolling", "mmc_rolling", "cumulative_payout", "cumulative_burn",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface BoardQuery {
  q: string;
  sort: SortKey;
  desc: boolean;
  page: number; // 1-based
  pageSize: number;
}

export const DEFAULT_QUERY: BoardQuery = { q: "", sort: "stake", desc: true, page: 1, pageSize: 50 };

/** A row with its amounts parsed once (bigint), so sorting never re-parses strings. */
export interface BoardRow {
  row: LeaderboardRow;
  rank: number;
  stake: bigint;
  payout: bigint | null;
  burn: bigint | null;
  ownerLower: string;
  idText: string;
}

export interface BoardPage {
  rows: BoardRow[];
  matched: number;
  total: number;
  page: number;
  pages: number;
}

export function prepare(models: LeaderboardRow[]): BoardRow[] {
  return models.map((row) => ({
    row,
    rank: 0,
    stake: BigInt(row.stake),
    payout: row.cumulative_payout === null ? null : BigInt(row.cumulative_payout),
    burn: row.cumulative_burn === null ? null : BigInt(row.cumulative_burn),
    ownerLower: row.owner.toLowerCase(),
    idText: String(row.model_id),
  }));
}

function key(r: BoardRow, sort: SortKey): bigint | number | string | null {
  switch (sort) {
    case "model_id": return r.row.model_id;
    case "owner": return r.ownerLower;
    case "stake": return r.stake;
    case "cumulative_payout": return r.payout;
    case "cumulative_burn": return r.burn;
    default: {
      const v = r.row[sort];
      return v === null || !Number.isFinite(v) ? null : v;
    }
  }
}

/** Sorts in place and numbers the ranks. Missing values (never scored) go last in either direction; ties keep
 * model id order, so the order is total and stable across reloads. */
export function sortRows(rows: BoardRow[], sort: SortKey, desc: boolean): BoardRow[] {
  const sign = desc ? -1 : 1;
  rows.sort((a, b) => {
    const ka = key(a, sort);
    const kb = key(b, sort);
    if (ka === null || kb === null) {
      if (ka !== kb) return ka === null ? 1 : -1;
    } else if (ka !== kb) {
      return (ka < kb ? -1 : 1) * sign;
    }
    return a.row.model_id - b.row.model_id;
  });
  rows.forEach((r, i) => (r.rank = i + 1));
  return rows;
}

/** Does a row match the search text? Digits match model ids that start with them ("42" finds 42, 420, 4201);
 * anything else matches owner addresses that contain it, case-insensitively ("0x7099", "dc79c8"). */
export function matches(r: BoardRow, q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  if (/^\d+$/.test(needle)) return r.idText.startsWith(needle);
  return r.ownerLower.includes(needle);
}

export function pageOf(sorted: BoardRow[], query: BoardQuery): BoardPage {
  const found = query.q.trim() ? sorted.filter((r) => matches(r, query.q)) : sorted;
  const pages = Math.max(1, Math.ceil(found.length / query.pageSize));
  const page = Math.min(Math.max(1, query.page), pages);
  const start = (page - 1) * query.pageSize;
  return { rows: found.slice(start, start + query.pageSize), matched: found.length, total: sorted.length, page, pages };
}

/** The query as it is kept in the URL (`#/?q=…&sort=…&dir=…&page=…`), defaults left out. */
export function queryToParams(query: BoardQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.q) params.set("q", query.q);
  if (query.sort !== DEFAULT_QUERY.sort) params.set("sort", query.sort);
  if (query.desc !== DEFAULT_QUERY.desc) params.set("dir", query.desc ? "desc" : "asc");
  if (query.page !== 1) params.set("page", String(query.page));
  if (query.pageSize !== DEFAULT_QUERY.pageSize) params.set("size", String(query.pageSize));
  return params;
}

export function paramsToQuery(params: URLSearchParams): BoardQuery {
  const sort = params.get("sort") as SortKey | null;
  const page = Number(params.get("page") ?? "1");
  const size = Number(params.get("size") ?? DEFAULT_QUERY.pageSize);
  return {
    q: params.get("q") ?? "",
    sort: sort && (SORT_KEYS as readonly string[]).includes(sort) ? sort : DEFAULT_QUERY.sort,
    desc: params.has("dir") ? params.get("dir") !== "asc" : DEFAULT_QUERY.desc,
    page: Number.isInteger(page) && page >= 1 ? page : 1,
    pageSize: [25, 50, 100, 250].includes(size) ? size : DEFAULT_QUERY.pageSize,
  };
}
