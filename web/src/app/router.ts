/** Hash routing: `#/` leaderboard, `#/rounds`, `#/model/42`, `#/wallet`. The part after `?` is page state
 * (search, sort, page) so a view can be bookmarked and shared. */

export interface Route {
  page: "leaderboard" | "rounds" | "model" | "wallet" | "not-found";
  modelId?: number;
  params: URLSearchParams;
  path: string;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [pathPart, queryPart = ""] = raw.split("?", 2) as [string, string?];
  const path = pathPart.replace(/\/+$/, "") || "/";
  const params = new URLSearchParams(queryPart);
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "leaderboard")) {
    return { page: "leaderboard", params, path };
  }
  if (parts.length === 1 && parts[0] === "rounds") return { page: "rounds", params, path };
  if (parts.length === 1 && parts[0] === "wallet") return { page: "wallet", params, path };
  if (parts.length === 2 && parts[0] === "model" && /^[1-9]\d{0,18}$/.test(parts[1]!)) {
    return { page: "model", modelId: Number(parts[1]), params, path };
  }
  return { page: "not-found", params, path };
}

/** Replaces the query part of the current route without adding a history entry or re-rendering. */
export function setParams(params: URLSearchParams): void {
  const route = parseRoute(location.hash);
  const query = params.toString();
  history.replaceState(null, "", `#${route.path}${query ? `?${query}` : ""}`);
}
