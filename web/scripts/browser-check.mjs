// Walks the built app in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against the
// fixture service, and against a real Anvil chain for the wallet: a test EIP-1193 provider, announced through
// EIP-6963, forwards every request to Anvil, whose development accounts sign (eth_sendTransaction,
// eth_signTypedData_v4). Checks what the pages show, that no page logs a console error or a failed request, and
// measures the leaderboard's first render with 10,000 models. Screenshots go to the output directory.
//
//   npm run build && node scripts/browser-check.mjs [out-dir]      (needs build/contracts: `make compile`)
//
// Exits non-zero when a check fails; prints the figures (first render, asset sizes) as JSON.

import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { preview } from "vite";
import { startDevChain } from "./dev-chain.mjs";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resolve(process.argv[2] ?? join(tmpdir(), `web-check-${Date.now()}`));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const LOADS = 5;
mkdirSync(OUT, { recursive: true });

const failures = [];
const problems = []; // console errors and failed requests
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

async function serve(chainFile) {
  if (chainFile) process.env.FIXTURE_CHAIN = chainFile;
  else delete process.env.FIXTURE_CHAIN;
  const port = await freePort();
  const server = await preview({ root: WEB, logLevel: "warn", preview: { port, strictPort: true, host: "127.0.0.1" } });
  delete process.env.FIXTURE_CHAIN;
  return { server, url: `http://127.0.0.1:${port}/` };
}

function watch(page, name) {
  page.on("console", (m) => { if (m.type() === "error") problems.push(`${name}: console error: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`${name}: request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`${name}: HTTP ${r.status()} for ${r.url()}`); });
}

async function shot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

function assetSizes() {
  const dir = join(WEB, "dist", "assets");
  const files = readdirSync(dir).map((f) => {
    const data = readFileSync(join(dir, f));
    return { file: f, bytes: statSync(join(dir, f)).size, gzip: gzipSync(data, { level: 9 }).length };
  }).sort((a, b) => b.bytes - a.bytes);
  const total = files.reduce((t, f) => ({ bytes: t.bytes + f.bytes, gzip: t.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  return { files, total };
}

/** The test wallet, injected before any page script: EIP-6963 announcement + EIP-1193 over Anvil's JSON-RPC. */
function testWallet({ rpc, account }) {
  let id = 0;
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      const res = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }) });
      const body = await res.json();
      if (body.error) {
        const err = new Error(body.error.message);
        err.code = body.error.code;
        err.data = body.error.data;
        throw err;
      }
      return body.result;
    },
    on(event, fn) { (listeners[event] ??= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn); },
  };
  const info = { uuid: "6f1f3a55-0000-4000-8000-00000000a11e", name: "Test wallet (Anvil)", rdns: "dev.tournament.test",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E%3Ccircle cx='4' cy='4' r='4' fill='%232553c9'/%3E%3C/svg%3E" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}

async function rpcCall(url, method, params) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return (await res.json()).result;
}

const text = (page, selector) => page.locator(selector).first().innerText();

async function leaderboard(browser, base) {
  const timings = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } }); // cold: no cache
    const page = await context.newPage();
    watch(page, "leaderboard");
    await page.goto(`${base}#/`);
    await page.waitForFunction(() => performance.getEntriesByName("leaderboard-rendered").length > 0);
    timings.push(await page.evaluate(() => performance.getEntriesByName("leaderboard-rendered")[0].startTime));
    if (i < LOADS - 1) { await context.close(); continue; }

    check((await page.locator("table.board tbody tr").count()) === 50, "leaderboard shows one page of 50 rows");
    check((await text(page, ".count")) === "Showing 1–50 of 10,000", "leaderboard counts 10,000 models");
    const stakes = await page.$$eval("table.board tbody tr td:nth-child(4)", (tds) =>
      tds.map((td) => Number(td.textContent.replace(/,/g, ""))));
    check(stakes.every((s, j) => j === 0 || stakes[j - 1] >= s), "sorted by stake, largest first, by default");
    await shot(page, "leaderboard");
    await page.getByRole("button", { name: /^CORR$/ }).click();
    const corr = await page.$$eval("table.board tbody tr td:nth-child(5)", (tds) =>
      tds.map((td) => Number(td.textContent.replace("−", "-"))));
    check(corr.every((c, j) => j === 0 || corr[j - 1] >= c), "clicking CORR sorts by CORR, largest first");
    check(page.url().includes("sort=corr"), "the sort is kept in the URL");
    await page.getByRole("button", { name: "Next page" }).click();
    check((await text(page, ".page-no")) === "Page 2 of 200", "the pager moves to page 2 of 200");
    await page.fill("input.search", "4242");
    await page.waitForFunction(() => document.querySelector(".count")?.textContent?.includes("matching"));
    const ids = await page.$$eval("table.board tbody tr", (trs) => trs.map((tr) => tr.dataset.model));
    check(ids.length === 1 && ids[0] === "4242", `searching "4242" finds model 4242 only (got ${ids.join(",")})`);
    const owner = await page.locator("table.board tbody tr code").first().getAttribute("title");
    await page.fill("input.search", owner.slice(0, 12));
    await page.waitForFunction((o) => [...document.querySelectorAll("table.board tbody tr code")]
      .every((c) => c.getAttribute("title").startsWith(o)), owner.slice(0, 12));
    check((await page.locator("table.board tbody tr").count()) >= 1, "searching an owner prefix lists that owner's models");
    await page.fill("input.search", "");
    await page.waitForFunction(() => document.querySelector(".count")?.textContent?.endsWith("of 10,000"));
    const first = page.locator("table.board tbody tr a code").first();
    const address = (await first.getAttribute("title")).split(":")[0];
    await first.click();
    await page.waitForFunction((o) => document.querySelector("input.search")?.value === o, address);
    const owners = await page.$$eval("table.board tbody tr code", (cs) => cs.map((c) => c.getAttribute("title").split(":")[0]));
    check(owners.length >= 1 && owners.every((o) => o === address), `an owner's link lists that owner's ${owners.length} models`);
    await context.close();
  }
  timings.sort((a, b) => a - b);
  return { loads: LOADS, median_ms: Math.round(timings[Math.floor(LOADS / 2)]), max_ms: Math.round(timings[LOADS - 1]),
    all_ms: timings.map(Math.round) };
}

async function rounds(page, base) {
  await page.goto(`${base}#/rounds`);
  await page.waitForSelector("section.round");
  const open = await text(page, ".open-round");
  check(/Round 12 is open/.test(open) && /close in 1 h 5\d min|close in 2 h 00 min/.test(open),
    "the open round counts down by chain time (round 12 closes in about 2 h)");
  const r9 = page.locator('section.round[data-round="9"]');
  check(/Does not verify: 3 differences/.test(await r9.innerText()), "round 9's vetoed proposal shows the auditor's failure");
  check((await r9.locator(".verdict.bad a").allInnerTexts()).join(",") === "17,42", "…naming models 17 and 42 with links");
  check(/Verified/.test(await r9.locator('li.proposal[data-seq="1"]').innerText()), "…and its re-proposal verified");
  check(/tourney verify --round 9/.test(await r9.innerText()), "round 9 shows the command that reproduces it");
  check((await r9.locator('li.proposal[data-seq="1"] .files a').allInnerTexts()).includes("tree.json"),
    "round 9 links the bundle's files (manifest, scores, tree)");
  check(/challenge window ends in (3\d|40) min/.test(await page.locator('section.round[data-round="10"]').innerText()),
    "round 10 counts down its challenge window");
  check(/lapsed/.test(await page.locator('section.round[data-round="6"]').innerText()), "round 6 shows as lapsed");
  check(/closed, awaiting results/.test(await page.locator('section.round[data-round="11"]').innerText()),
    "round 11 shows as closed, awaiting results");
  const manifest = await page.request.get(new URL(await r9.locator('li.proposal[data-seq="0"] .files a').first()
    .getAttribute("href"), `${base}`).toString());
  check(manifest.ok(), "the manifest link resolves");
  await shot(page, "rounds");
}

async function model(page, base) {
  await page.goto(`${base}#/model/42`);
  await page.waitForSelector(".chart canvas");
  const charts = await page.$$eval(".chart", (els) => els.map((e) => JSON.parse(e.dataset.chart)));
  check(charts.length === 3, "the model page draws three charts");
  const scoreChart = charts.find((c) => c.title.startsWith("CORR"));
  const rows = await page.locator("table.rounds-table tbody tr").count();
  check(scoreChart && scoreChart.series.CORR.length === scoreChart.rounds.length && scoreChart.rounds.length >= 5,
    "the CORR/MMC chart has one point per scored round");
  check(rows >= scoreChart.rounds.length, "every round with results is in the receipts table");
  check(/Pending withdrawal\s*335\.94 STK/i.test(await text(page, ".stats")), "the pending withdrawal is shown");
  await page.locator("table.rounds-table tbody tr").first().getByRole("button", { name: "Check" }).click();
  await page.waitForSelector(".receipt .pos, .receipt .neg");
  check(/signed by the operator/.test(await text(page, ".receipt .pos")), "a receipt's signature checks in the browser");
  await page.waitForTimeout(200);
  await shot(page, "model-42");
  await page.goto(`${base}#/model/7`);
  await page.waitForSelector(".stats");
  check(/at the latest by/.test(await text(page, ".stats")), "a waiting withdrawal says when it can be taken at the latest");
}

async function wallet(browser, base, dev) {
  const [alice] = dev.chain.participants;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.addInitScript(testWallet, { rpc: dev.url, account: alice });
  const page = await context.newPage();
  watch(page, "wallet");
  await page.goto(`${base}#/wallet`);
  await page.getByRole("button", { name: "Test wallet (Anvil)" }).click();
  await page.waitForSelector("#connect h2:text('Connected')");
  check((await text(page, "#connect code.account")) === alice, "connects the EIP-6963 wallet's account");
  check(/Token balance\s*9,000 STK/i.test(await text(page, "#connect .stats")), "shows the token balance (9,000 STK)");
  check((await page.locator('#models tr[data-model="1"]').count()) === 1, "lists the account's model 1");
  await shot(page, "wallet-connected");

  await page.getByRole("button", { name: "Register a new model" }).click();
  await page.waitForSelector("#models .status:text('Registered model 3')", { timeout: 30_000 });
  check((await page.locator('#models tr[data-model="3"]').count()) === 1, "registering adds model 3 to the list");

  const nonceBefore = Number(await rpcCall(dev.url, "eth_getTransactionCount", [alice, "latest"]));
  const stake = page.locator("form", { has: page.locator("h3", { hasText: "Stake on model 3" }) });
  await stake.locator("input").fill("250");
  await stake.getByRole("button", { name: "Stake with permit" }).click();
  await page.waitForSelector("#actions .notice.ok:text('Staked 250 STK on model 3')", { timeout: 30_000 });
  const nonceAfter = Number(await rpcCall(dev.url, "eth_getTransactionCount", [alice, "latest"]));
  check(nonceAfter - nonceBefore === 1, "stake with permit is one signature and exactly one transaction");
  check(/Stake \(settled\)\s*250 STK/i.test(await text(page, "#actions .stats")), "the stake shows 250 STK");

  const request = page.locator("form", { has: page.locator("h3", { hasText: "Request a withdrawal" }) });
  await request.locator("input").fill("1000");
  await request.getByRole("button", { name: "Request withdrawal" }).click();
  await page.waitForSelector("#actions .notice.error");
  const refusal = await text(page, "#actions .notice.error");
  check(/Model 3 has 250 STK of settled stake/.test(refusal) && !/0x[0-9a-f]{8}/i.test(refusal),
    `an over-large withdrawal is refused in words, no hex ("${refusal.trim()}")`);
  await shot(page, "wallet-error");
  await request.locator("input").fill("100");
  await request.getByRole("button", { name: "Request withdrawal" }).click();
  await page.waitForSelector("#actions .notice.ok:text('Requested 100 STK')", { timeout: 30_000 });
  check(/Pending withdrawal\s*100 STK/i.test(await text(page, "#actions .stats")), "the pending withdrawal shows 100 STK");
  await page.getByRole("button", { name: "Withdraw", exact: true }).click();
  await page.waitForSelector("#withdraw-status:text('Withdrawn from model 3')", { timeout: 30_000 });
  check(/Pending withdrawal\s*none/i.test(await text(page, "#actions .stats")), "withdrawing clears the pending withdrawal");
  check(/Token balance\s*8,850 STK/i.test(await text(page, "#connect .stats")), "…and pays 100 back (balance 9,000 − 250 + 100)");

  await page.locator('#models tr[data-model="1"]').getByRole("button", { name: "Select" }).click();
  await page.waitForSelector("#actions h2:text('model 1')");
  await page.getByRole("button", { name: "Settle through round 1" }).click();
  await page.waitForSelector("#settle-status:text('settled through round 1')", { timeout: 30_000 });
  check(/Stake \(settled\)\s*1,030 STK/i.test(await text(page, "#actions .stats")), "settling applies round 1's payout (1,030 STK)");
  check(await page.getByRole("button", { name: "Settle through round 1" }).isDisabled()
    && /settled through round 1, the newest active round: nothing to apply/.test(await text(page, "#actions")),
    "once settled, settling again is offered no more, and the page says why");

  const files = page.locator('#submit input[type="file"]');
  const bad = "id,prediction\nid0000,0.5\nid0001,1.5\nnot-live,0.2\n";
  await files.setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  await page.waitForSelector("#submit .notice.error");
  const listed = await page.locator("#submit .problems li").allInnerTexts();
  check(listed.length === 3 && listed.some((p) => p.includes("out_of_range")) && listed.some((p) => p.includes("missing_ids")),
    `a bad file's problems are listed before signing (${listed.length})`);
  check(await page.getByRole("button", { name: /Sign and submit/ }).isDisabled(), "…and it cannot be signed");
  await shot(page, "wallet-invalid-file");
  const good = "id,prediction\n" + Array.from({ length: 1000 }, (_, i) =>
    `id${String(i).padStart(4, "0")},${((i * 7919) % 1000) / 1000}`).join("\n") + "\n";
  await files.setInputFiles({ name: "predictions.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
  await page.waitForSelector("#submit .notice.ok:text('passes round 2')");
  await page.getByRole("button", { name: /Sign and submit/ }).click();
  await page.waitForSelector(".receipt-card", { timeout: 30_000 });
  check(/signed by the tournament's operator/.test(await text(page, ".receipt-card")), "the operator's receipt is shown and checked");
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: "Download receipt" }).click()]);
  const saved = JSON.parse(readFileSync(await download.path(), "utf8"));
  check(saved.round === 2 && saved.model_id === 1 && /^0x[0-9a-f]{130}$/i.test(saved.signature),
    `the receipt downloads as JSON (${download.suggestedFilename()})`);
  await shot(page, "wallet-receipt");

  await page.goto(`${base}#/model/1`);
  await page.waitForSelector("table.rounds-table");
  await page.getByRole("button", { name: "Check" }).first().click();
  await page.waitForSelector(".receipt .pos");
  check(true, "the model page lists the new receipt, and it checks");
  await context.close();
}

const dev = await startDevChain(join(OUT, "chain.json"));
const fixtures = await serve(null);
const live = await serve(join(OUT, "chain.json"));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
let figures = {};
try {
  const firstRender = await leaderboard(browser, fixtures.url);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, "pages");
  await rounds(page, fixtures.url);
  await model(page, fixtures.url);
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`${fixtures.url}#/model/42`);
  await page.waitForSelector(".chart canvas");
  await shot(page, "model-42-dark");
  await page.emulateMedia({ colorScheme: "light" });
  await page.goto(`${fixtures.url}#/no-such-page`);
  check(/There is no page at/.test(await text(page, "main")), "an unknown route says so");
  await context.close();
  await wallet(browser, live.url, dev);
  check(problems.length === 0, `no console errors or failed requests${problems.length ? `:\n  ${problems.join("\n  ")}` : ""}`);
  figures = { first_render_10000_models: firstRender, assets: assetSizes(), screenshots: OUT };
} catch (err) {
  failures.push(`the walk stopped: ${err.stack ?? err}`);
  console.log(`FAIL the walk stopped: ${err.stack ?? err}`);
} finally {
  await browser.close();
  await fixtures.server.close();
  await live.server.close();
  dev.stop();
}
writeFileSync(join(OUT, "figures.json"), JSON.stringify(figures, null, 2) + "\n");
console.log(JSON.stringify(figures, null, 2));
console.log(failures.length ? `${failures.length} check(s) failed` : "all checks passed");
process.exit(failures.length ? 1 : 0);
