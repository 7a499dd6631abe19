/** The app shell: navigation, the chain clock in the header, and the page for the current hash route. Model and
 * wallet pages are loaded on demand (charts and the chain library stay out of the leaderboard's first load). */

import "./style.css";
import { api } from "./app/api";
import { clock, startTicker } from "./app/clock";
import { h, replace } from "./app/dom";
import { formatInteger, formatTime } from "./app/format";
import { parseRoute, type Route } from "./app/router";
import { errorBox } from "./app/ui";
import * as leaderboard from "./pages/leaderboard";
import * as rounds from "./pages/rounds";

type Cleanup = (() => void) | void;

const main = document.getElementById("main")!;
const chainStatus = document.getElementById("chain-status")!;
let cleanup: Cleanup;

const TITLES: Record<Route["page"], string> = {
  leaderboard: "Leaderboard", rounds: "Rounds", model: "Model", wallet: "Wallet", "not-found": "Not found",
};

async function show(): Promise<void> {
  // Pages keep their own state in the query with history.replaceState, which fires no hashchange: every
  // hashchange is a navigation (a link, back, forward) and renders the page afresh.
  const route = parseRoute(location.hash);
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  document.title = `${route.page === "model" ? `Model ${route.modelId}` : TITLES[route.page]} · Tournament`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav.main a")) {
    a.toggleAttribute("aria-current", a.dataset.page === route.page);
  }
  window.scrollTo(0, 0);
  try {
    switch (route.page) {
      case "leaderboard": cleanup = await leaderboard.render(main, route); break;
      case "rounds": cleanup = rounds.render(main); break;
      case "model": cleanup = await (await import("./pages/model")).render(main, route); break;
      case "wallet": cleanup = (await import("./pages/wallet")).render(main, route); break;
      default:
        replace(main, h("h1", null, "Not found"),
          h("p", null, `There is no page at "${route.path}". `, h("a", { href: "#/" }, "Go to the leaderboard"), "."));
    }
  } catch (err) {
    replace(main, h("h1", null, TITLES[route.page]), errorBox(err, "This page failed to load; reload to try again."));
  }
}

async function tickHeader(): Promise<void> {
  try {
    const health = await api.health();
    clock.sync(health.chain_time, health.block);
    replace(chainStatus, h("span", { title: "Latest block and its timestamp: the clock deadlines are judged by" },
      `chain ${health.chain_id} · block ${formatInteger(health.block)} · ${formatTime(health.chain_time)}`));
    chainStatus.classList.remove("down");
  } catch {
    chainStatus.textContent = "service unreachable";
    chainStatus.classList.add("down");
  }
}

window.addEventListener("hashchange", () => void show());
startTicker();
void show();
void tickHeader();
setInterval(() => void tickHeader(), 30_000);
