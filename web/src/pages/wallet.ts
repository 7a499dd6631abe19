/** Wallet: connect an injected wallet, register a model, stake with a permit, request / lower / cancel a
 * withdrawal, withdraw, settle; validate, sign and submit a prediction file and keep the operator's receipt. */

import { getAddress, numberToHex, type AbiFunction, type Address, type Hex } from "viem";
import {
  api, ApiError, type ContractInfo, type Info, type LeaderboardRow, type Model, type Receipt, type Round,
  type Validation,
} from "../app/api";
import { clock, countdown } from "../app/clock";
import { download, h, link, replace } from "../app/dom";
import { formatInteger, formatTime, formatUnits, parseAmount, shortHex } from "../app/format";
import { parseRoute, setParams, type Route } from "../app/router";
import { amount, errorBox, loading, notice, stat } from "../app/ui";
import { humanize } from "../chain/errors";
import { abiFunction, Session } from "../chain/session";
import { predictionsHash, receiptProblem } from "../chain/typed";
import { discoverWallets, safeIcon, type Wallet } from "../chain/wallets";

const REMEMBERED = "tournament.wallet"; // the rdns of the wallet last connected, to reconnect without a prompt

interface State {
  info: Info;
  contract: ContractInfo | null;
  contractError: unknown;
  wallets: Wallet[];
  wallet: Wallet | null;
  session: Session | null;
  chainId: number | null;
  balance: bigint | null;
  models: LeaderboardRow[];
  selected: number | null;
  detail: Model | null;
  rounds: Round[];
  openRounds: Round[];
}

/** Sets one parameter of the page's URL, keeping the others (the chosen round, say). */
function keepParam(name: string, value: string): void {
  const params = parseRoute(location.hash).params;
  params.set(name, value);
  setParams(params);
}

/** Reads a file's bytes and base64 (chunked: a prediction file can be megabytes). */
async function readFile(file: File): Promise<{ bytes: Uint8Array; base64: string }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return { bytes, base64: btoa(binary) };
}

export function render(root: HTMLElement, route: Route): () => void {
  let alive = true;
  const sections = {
    connect: h("section", { class: "card", id: "connect" }),
    models: h("section", { class: "card", id: "models" }),
    actions: h("section", { class: "card", id: "actions" }),
    submit: h("section", { class: "card", id: "submit" }),
  };
  replace(root, h("h1", null, "Wallet"), loading("wallets and the tournament"));
  let state!: State; // assigned once the tournament's info has loaded; nothing draws before that
  let ready = false;
  const listeners: Array<() => void> = [];

  async function start(): Promise<void> {
    const late: Wallet[] = []; // wallets announcing themselves while the page was still loading
    let info: Info;
    try {
      info = await api.info();
    } catch (err) {
      replace(root, h("h1", null, "Wallet"), errorBox(err, "The tournament could not be loaded."));
      return;
    }
    const [wallets, rounds] = await Promise.all([
      discoverWallets(400, (w) => {
        if (!ready) { late.push(w); return; }
        state.wallets.push(w);
        if (!state.wallet) drawConnect();
      }),
      api.rounds(64).catch(() => null),
    ]);
    if (!alive) return;
    if (rounds) clock.sync(rounds.chain_time, rounds.block);
    state = {
      info, contract: null, contractError: null, wallets: [...wallets, ...late], wallet: null, session: null, chainId: null,
      balance: null, models: [], selected: Number(route.params.get("model")) || null, detail: null,
      rounds: rounds?.recent ?? [], openRounds: rounds?.open ?? [],
    };
    ready = true;
    replace(root, h("h1", null, "Wallet"), sections.connect, sections.models, sections.actions, sections.submit);
    drawAll();
    const remembered = localStorage.getItem(REMEMBERED);
    const again = remembered ? wallets.find((w) => w.info.rdns === remembered) : undefined;
    if (again) await connect(again, false);
  }

  function drawAll(): void {
    drawConnect();
    drawModels();
    drawActions();
    drawSubmit();
  }

  // ---------------------------------------------------------------- connecting

  async function connect(wallet: Wallet, prompt: boolean): Promise<void> {
    const status = h("p", { class: "muted" }, prompt ? `Waiting for ${wallet.info.name}…` : "Reconnecting…");
    sections.connect.appendChild(status);
    try {
      const accounts = (await wallet.provider.request({
        method: prompt ? "eth_requestAccounts" : "eth_accounts" } as never)) as string[];
      if (!accounts.length) {
        if (prompt) throw new Error(`${wallet.info.name} shared no account.`);
        status.remove();
        return;
      }
      const chainHex = (await wallet.provider.request({ method: "eth_chainId" } as never)) as string;
      // The contract (address and ABI) is only needed once a wallet is connected.
      if (!state.contract) {
        try {
          state.contract = await api.contract();
        } catch (err) {
          state.contractError = err;
        }
      }
      state.wallet = wallet;
      state.chainId = Number(BigInt(chainHex));
      localStorage.setItem(REMEMBERED, wallet.info.rdns);
      watch(wallet);
      await useAccount(getAddress(accounts[0]!));
    } catch (err) {
      status.remove();
      const message = (err as { code?: number }).code === 4001
        ? "You declined the connection in your wallet." : (err as Error).message;
      sections.connect.appendChild(errorBox(new Error(message), "Not connected."));
    }
  }

  function watch(wallet: Wallet): void {
    const onAccounts = (accounts: unknown) => {
      const list = accounts as string[];
      if (!list.length) disconnect();
      else void useAccount(getAddress(list[0]!));
    };
    const onChain = async (chainHex: unknown) => {
      state.chainId = Number(BigInt(chainHex as string));
      const accounts = (await wallet.provider.request({ method: "eth_accounts" } as never)) as string[];
      if (accounts.length) await useAccount(getAddress(accounts[0]!));
      else disconnect();
    };
    wallet.provider.on?.("accountsChanged", onAccounts as never);
    wallet.provider.on?.("chainChanged", onChain as never);
    listeners.push(() => {
      wallet.provider.removeListener?.("accountsChanged", onAccounts as never);
      wallet.provider.removeListener?.("chainChanged", onChain as never);
    });
  }

  function disconnect(): void {
    localStorage.removeItem(REMEMBERED);
    state.wallet = null;
    state.session = null;
    state.models = [];
    state.detail = null;
    drawAll();
  }

  async function useAccount(account: Address): Promise<void> {
    state.session = state.wallet && state.contract && state.chainId === state.info.chain_id
      ? new Session(state.wallet.provider, account, state.info, state.contract) : null;
    if (!state.session) {
      state.models = [];
      state.balance = null;
      drawAll();
      if (state.wallet) drawConnect(account);
      return;
    }
    await refresh();
  }

  async function refresh(): Promise<void> {
    const session = state.session;
    if (!session) return;
    const [balance, board, rounds] = await Promise.all([
      session.tokenBalance().catch(() => null),
      api.leaderboard(session.account).catch((err: unknown) => { sections.models.prepend(errorBox(err)); return null; }),
      api.rounds(64).catch(() => null), // a round may have opened or been activated since the page loaded
    ]);
    state.balance = balance;
    if (rounds) {
      clock.sync(rounds.chain_time, rounds.block);
      state.rounds = rounds.recent;
      state.openRounds = rounds.open;
    }
    if (board) {
      // Keep a model just registered even if the service has not seen its block yet.
      const known = new Set(board.models.map((m) => m.model_id));
      state.models = [...board.models, ...state.models.filter((m) => !known.has(m.model_id))]
        .sort((a, b) => a.model_id - b.model_id);
    }
    if (state.selected && !state.models.some((m) => m.model_id === state.selected)) state.selected = null;
    if (!state.selected && state.models.length) state.selected = state.models[0]!.model_id;
    state.detail = state.selected ? await api.model(state.selected).catch(() => null) : null;
    if (!alive) return;
    drawAll();
  }

  function drawConnect(unsupportedAccount?: Address): void {
    const s = sections.connect;
    if (state.wallet && (state.session || unsupportedAccount)) {
      const account = state.session?.account ?? unsupportedAccount!;
      replace(s, h("h2", null, "Connected"),
        h("p", null, h("strong", null, state.wallet.info.name), " · ", h("code", { class: "account" }, account),
          " ", h("button", { type: "button", class: "ghost small", onclick: disconnect }, "Disconnect")),
        state.chainId !== state.info.chain_id ? wrongChain() : null,
        !state.contract ? errorBox(state.contractError, "The service does not publish the contract, so transactions "
          + "cannot be prepared.") : null,
        state.session ? h("div", { class: "stats" },
          stat("Token balance", state.balance === null ? "—" : amount(state.balance, state.info.token),
            ` ${state.info.token.symbol}`),
          stat("Chain", `${state.info.chain_id}`),
          stat("Tournament", h("code", { title: state.info.tournament }, shortHex(state.info.tournament)))) : null);
      return;
    }
    replace(s, h("h2", null, "Connect a wallet"),
      state.wallets.length
        ? h("div", { class: "wallets" }, state.wallets.map((w) => {
            const icon = safeIcon(w.info.icon);
            return h("button", { type: "button", class: "wallet", onclick: () => void connect(w, true) },
              icon ? h("img", { src: icon, alt: "", width: 24, height: 24 }) : null, ` ${w.info.name}`);
          }))
        : notice("info", "No wallet was found in this browser. Install one that supports EIP-6963 or EIP-1193 "
            + "(a browser extension), then reload this page. The leaderboard, rounds and model pages work without "
            + "one."));
  }

  function wrongChain(): HTMLElement {
    const button = h("button", { type: "button" }, `Switch to chain ${state.info.chain_id}`);
    button.addEventListener("click", async () => {
      try {
        await state.wallet!.provider.request({ method: "wallet_switchEthereumChain",
          params: [{ chainId: numberToHex(state.info.chain_id) }] } as never);
      } catch (err) {
        button.after(errorBox(new Error(`The wallet did not switch: ${(err as Error).message}`)));
      }
    });
    return notice("warn", `Your wallet is on chain ${state.chainId}; this tournament is on chain `
      + `${state.info.chain_id}. `, button);
  }

  // ---------------------------------------------------------------- models

  function drawModels(): void {
    const s = sections.models;
    const session = state.session;
    if (!session) {
      replace(s, h("h2", null, "Your models"), h("p", { class: "muted" }, "Connect a wallet to see your models."));
      return;
    }
    const t = state.info.token;
    const status = h("p", { class: "muted status" });
    const register = h("button", { type: "button" }, "Register a new model");
    register.addEventListener("click", () => run(register, status, async () => {
      const { modelId, receipt } = await session.registerModel((text) => (status.textContent = text));
      state.models = [...state.models.filter((m) => m.model_id !== modelId), {
        model_id: modelId, owner: session.account, stake: "0", pending_withdrawal: "0", corr: null, mmc: null,
        scored_round: null, corr_rolling: null, mmc_rolling: null, rounds_scored: 0, cumulative_payout: null,
        cumulative_burn: null }];
      state.selected = modelId;
      keepParam("model", String(modelId));
      await refresh();
      sections.models.querySelector(".status")!.textContent =
        `Registered model ${modelId} in block ${receipt.blockNumber}.`;
    }));
    replace(s, h("h2", null, "Your models"),
      state.models.length
        ? h("table", { class: "mine" },
            h("thead", null, h("tr", null, h("th", null, "Model"), h("th", { class: "num" }, "Stake"),
              h("th", { class: "num" }, "Pending withdrawal"), h("th", null, ""))),
            h("tbody", null, state.models.map((m) => {
              const pick = h("button", { type: "button", class: m.model_id === state.selected ? "small" : "ghost small" },
                m.model_id === state.selected ? "Selected" : "Select");
              pick.addEventListener("click", async () => {
                state.selected = m.model_id;
                keepParam("model", String(m.model_id));
                state.detail = await api.model(m.model_id).catch(() => null);
                drawAll();
              });
              return h("tr", { "data-model": m.model_id }, h("td", null, link(`/model/${m.model_id}`, `#${m.model_id}`)),
                h("td", { class: "num" }, amount(m.stake, t)), h("td", { class: "num" }, amount(m.pending_withdrawal, t)),
                h("td", null, pick));
            })))
        : h("p", { class: "muted" }, "This address owns no model yet."),
      h("p", null, register), status);
  }

  // ---------------------------------------------------------------- stake, withdrawal, settlement

  function drawActions(): void {
    const s = sections.actions;
    const session = state.session;
    const id = state.selected;
    if (!session || !id) {
      replace(s, h("h2", null, "Stake and withdraw"), h("p", { class: "muted" },
        session ? "Register or select a model first." : "Connect a wallet first."));
      return;
    }
    const t = state.info.token;
    const row = state.models.find((m) => m.model_id === id);
    const d = state.detail;
    const w = d?.withdrawal ?? null;
    const latestActive = Math.max(0, ...state.rounds.filter((r) => r.status === "active").map((r) => r.round));

    const stakeForm = amountForm(`Stake on model ${id}`, "Stake with permit", async (value, status) => {
      await session.stakeWithPermit(id, value, status);
      return `Staked ${formatUnits(value, t.decimals)} ${t.symbol} on model ${id}. It counts from the next round that closes.`;
    }, state.balance !== null ? `You hold ${formatUnits(state.balance, t.decimals)} ${t.symbol}.` : undefined);

    const requestForm = amountForm("Request a withdrawal", "Request withdrawal", async (value, status) => {
      await session.send("requestWithdrawal", [BigInt(id), value], status);
      return `Requested ${formatUnits(value, t.decimals)} ${t.symbol}: it stays at risk in every round closed `
        + "before now and can be taken once those are settled.";
    });

    // Lowering or cancelling a request exists only in some versions of the contract: offer what its ABI has.
    const extra = session.tournamentAbi
      .filter((item): item is AbiFunction => item.type === "function" && item.stateMutability !== "view"
        && item.stateMutability !== "pure" && /^(lower|cancel|reduce|decrease)\w*Withdrawal$/.test(item.name))
      .map((fn) => abiForm(session, fn.name, id));

    const withdrawStatus = h("p", { class: "muted status" });
    const withdrawButton = h("button", { type: "button", disabled: !w }, "Withdraw");
    withdrawButton.addEventListener("click", () => run(withdrawButton, withdrawStatus, async () => {
      await session.send("withdraw", [BigInt(id)], (text) => (withdrawStatus.textContent = text));
      await refresh();
      sections.actions.querySelector("#withdraw-status")!.textContent = `Withdrawn from model ${id}.`;
    }));
    withdrawStatus.id = "withdraw-status";

    const settleStatus = h("p", { class: "muted status", id: "settle-status" });
    const settled = d?.settled_through;
    const upToDate = settled !== undefined && latestActive > 0 && settled >= latestActive;
    const settleButton = h("button", { type: "button", disabled: !latestActive || upToDate },
      latestActive ? `Settle through round ${latestActive}` : "Settle");
    settleButton.addEventListener("click", () => run(settleButton, settleStatus, async () => {
      const say = (text: string) => (settleStatus.textContent = text);
      say(`Fetching model ${id}'s proof in round ${latestActive}…`);
      const proof = await api.proof(latestActive, id);
      await session.send("settle", [latestActive, BigInt(id), BigInt(proof.cumulative_payout),
        BigInt(proof.cumulative_burn), proof.proof], say);
      await refresh();
      sections.actions.querySelector("#settle-status")!.textContent = `Model ${id} is settled through round ${latestActive}.`;
    }));

    replace(s, h("h2", null, `Stake and withdraw: model ${id}`),
      h("div", { class: "stats" },
        stat("Stake (settled)", amount(d?.stake ?? row?.stake ?? null, t), ` ${t.symbol}`),
        stat("Pending withdrawal", w ? amount(w.amount, t) : "none", w ? ` ${t.symbol}` : "",
          w ? h("div", { class: "muted small" }, `at risk through round ${w.after_round}`) : null,
          w?.withdrawable ? h("div", { class: "pos small" }, "can be withdrawn now")
            : w?.available_at_latest ? h("div", { class: "small" }, "at the latest by ", formatTime(w.available_at_latest),
                " (in ", countdown(w.available_at_latest, "now"), ")") : null),
        stat("Settled through", settled !== undefined ? `round ${settled}` : "—")),
      h("div", { class: "forms" },
        stakeForm,
        requestForm,
        ...extra,
        h("div", { class: "form" }, h("h3", null, "Withdraw"),
          h("p", { class: "muted small" }, w ? `Pays up to ${formatUnits(BigInt(w.amount), t.decimals)} ${t.symbol} `
            + `once the model is settled through round ${w.after_round}.` : "Request a withdrawal first."),
          withdrawButton, withdrawStatus),
        h("div", { class: "form" }, h("h3", null, "Settle"),
          h("p", { class: "muted small" }, !latestActive ? "No round is active yet."
            : upToDate ? `Model ${id} is settled through round ${settled}, the newest active round: nothing to apply.`
            : `Applies the results through active round ${latestActive} to the model's stake (anyone may do this).`),
          settleButton, settleStatus)));
  }

  /** A form with one amount field, whose action returns the sentence to show on success. */
  function amountForm(title: string, action: string, go: (value: bigint, status: (t: string) => void) => Promise<string>,
    hint?: string): HTMLElement {
    const t = state.info.token;
    const input = h("input", { type: "text", inputmode: "decimal", placeholder: `0.0 ${t.symbol}`,
      "aria-label": `${title}: amount in ${t.symbol}` });
    const status = h("p", { class: "muted status" });
    const button = h("button", { type: "submit" }, action);
    const form = h("form", { class: "form" }, h("h3", null, title), hint ? h("p", { class: "muted small" }, hint) : null,
      h("div", { class: "row" }, input, button), status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const parsed = parseAmount(input.value, t.decimals);
      if ("error" in parsed) {
        replace(status, errorBox(new Error(parsed.error)));
        return;
      }
      run(button, status, async () => {
        const done = await go(parsed.value, (text) => (status.textContent = text));
        await refresh();
        // refresh() redrew the section: report in the new form with the same title.
        const again = [...sections.actions.querySelectorAll("form")].find((f) => f.querySelector("h3")?.textContent === title);
        again?.querySelector(".status")?.replaceChildren(notice("ok", done));
      });
    });
    return form;
  }

  /** A form built from the ABI for functions whose arguments this app does not hard-code (e.g. lowering or
   * cancelling a withdrawal in a redesigned contract): the model id is filled in, every other integer is an amount. */
  function abiForm(session: Session, name: string, id: number): HTMLElement {
    const fn = abiFunction(session.tournamentAbi, name)!;
    const t = state.info.token;
    const inputs = fn.inputs.map((input) => /model/i.test(input.name ?? "") ? null
      : h("input", { type: "text", inputmode: "decimal", placeholder: `${humanize(input.name ?? "amount")} (${t.symbol})`,
          "aria-label": humanize(input.name ?? "amount") }));
    const status = h("p", { class: "muted status" });
    const button = h("button", { type: "submit" }, humanize(name));
    const form = h("form", { class: "form" }, h("h3", null, humanize(name)),
      h("div", { class: "row" }, ...inputs.filter(Boolean), button), status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const args: unknown[] = [];
      for (const [i, field] of inputs.entries()) {
        if (!field) { args.push(BigInt(id)); continue; }
        const parsed = parseAmount(field.value, t.decimals);
        if ("error" in parsed) { replace(status, errorBox(new Error(`${humanize(fn.inputs[i]!.name ?? "")}: ${parsed.error}`))); return; }
        args.push(parsed.value);
      }
      run(button, status, async () => {
        await session.send(name, args, (text) => (status.textContent = text));
        await refresh();
      });
    });
    return form;
  }

  /** Runs an action with its button disabled, showing any failure in words under it. */
  function run(button: HTMLButtonElement, status: HTMLElement, action: () => Promise<void>): void {
    button.disabled = true;
    status.replaceChildren();
    action().catch((err: unknown) => {
      replace(status, errorBox(err instanceof Error ? err : new Error(String(err))));
    }).finally(() => { button.disabled = false; });
  }

  // ---------------------------------------------------------------- submissions

  function drawSubmit(): void {
    const s = sections.submit;
    const session = state.session;
    const open = state.openRounds;
    if (!open.length) {
      replace(s, h("h2", null, "Submit predictions"), notice("info", "No round is open for submissions right now."));
      return;
    }
    const wanted = Number(route.params.get("round"));
    const round = open.find((r) => r.round === wanted) ?? open[0]!;
    const header = [h("h2", null, `Submit predictions for round ${round.round}`),
      h("p", { class: "muted" }, "Closes in ", countdown(round.closes_at, "now (closed)"), " · deadline ",
        formatTime(round.closes_at), " (chain time) · ",
        h("a", { href: `rounds/${round.round}/live`, download: true }, "download the live data"))];
    if (!session || !state.selected) {
      replace(s, ...header, h("p", { class: "muted" }, session ? "Register or select a model first."
        : "Connect a wallet to sign a submission. Submissions cost no gas: you sign, the operator stores."));
      return;
    }
    const modelId = state.selected;
    const file = h("input", { type: "file", accept: ".csv,.parquet,.pq", "aria-label": "Prediction file" });
    const checks = h("div", { class: "checks" });
    const sign = h("button", { type: "button", disabled: true }, `Sign and submit for model ${modelId}`);
    const status = h("div", { class: "status" });
    const receiptBox = h("div", { class: "receipt-box" });
    let chosen: { name: string; bytes: Uint8Array; base64: string; hash: Hex; validation: Validation } | null = null;

    file.addEventListener("change", async () => {
      chosen = null;
      sign.disabled = true;
      receiptBox.replaceChildren();
      status.replaceChildren();
      const f = file.files?.[0];
      if (!f) { checks.replaceChildren(); return; }
      if (f.size > state.info.max_file_bytes) {
        replace(checks, errorBox(new Error(`${f.name} is ${formatInteger(f.size)} bytes; the service takes at most `
          + `${formatInteger(state.info.max_file_bytes)}.`)));
        return;
      }
      replace(checks, h("p", { class: "muted" }, `Checking ${f.name} against round ${round.round}'s rules…`));
      try {
        const { bytes, base64 } = await readFile(f);
        const hash = predictionsHash(bytes);
        const validation = await api.validate(round.round, base64, f.name, modelId);
        if (validation.predictions_hash !== hash) {
          throw new Error(`The service read a different file (hash ${validation.predictions_hash}, yours ${hash}); `
            + "choose the file again.");
        }
        if (!validation.ok) {
          replace(checks, h("div", { class: "notice error", role: "alert" },
            h("strong", null, `${f.name} breaks ${validation.problems.length} rule${validation.problems.length === 1 ? "" : "s"} `
              + `of round ${round.round}; fix the file and choose it again.`),
            h("ul", { class: "problems" }, validation.problems.map((p) => h("li", null, p)))));
          return;
        }
        chosen = { name: f.name, bytes, base64, hash, validation };
        replace(checks, notice("ok", `${f.name} passes round ${round.round}'s checks: `,
          `${validation.rows === null ? "" : formatInteger(validation.rows) + " rows, "}`
          + `${formatInteger(validation.live_ids)} live ids. Predictions hash `, h("code", null, shortHex(hash, 10, 8)), "."));
        sign.disabled = false;
      } catch (err) {
        replace(checks, errorBox(err, `${f.name} could not be checked.`));
      }
    });

    sign.addEventListener("click", () => {
      const c = chosen;
      if (!c) return;
      run(sign, status, async () => {
        replace(status, h("p", { class: "muted" }, "Sign the submission in your wallet (no transaction, no gas)…"));
        const signature = await session.signSubmission({ round: round.round, modelId, predictionsHash: c.hash,
          deadline: round.closes_at });
        replace(status, h("p", { class: "muted" }, "Delivering the file to the operator…"));
        let receipt: Receipt;
        try {
          receipt = await api.submit(round.round, {
            chain_id: state.info.chain_id, tournament: state.info.tournament, round: round.round, model_id: modelId,
            predictions_hash: c.hash, deadline: round.closes_at, signer: session.account, signature, file_name: c.name,
          }, c.base64);
        } catch (err) {
          if (err instanceof ApiError && err.receipt) {
            replace(status, notice("warn", err.message));
            await showReceipt(err.receipt, receiptBox);
            return;
          }
          throw err;
        }
        replace(status, notice("ok", `The operator received ${c.name} for model ${modelId} in round ${round.round}.`));
        await showReceipt(receipt, receiptBox);
        sign.disabled = true; // the same signed request again would only be a duplicate
      });
    });

    replace(s, ...header,
      h("ol", { class: "steps" },
        h("li", null, "Choose the prediction file (CSV with ", h("code", null, "id"), " and ", h("code", null, "prediction"),
          " columns, or Parquet); it is checked before you sign. ", file),
        h("li", null, "Sign it (EIP-712) and deliver it. ", sign)),
      checks, status, receiptBox);
  }

  async function showReceipt(receipt: Receipt, box: HTMLElement): Promise<void> {
    const problem = await receiptProblem(receipt, {
      operator: state.info.operator, chainId: state.info.chain_id, tournament: state.info.tournament });
    const save = h("button", { type: "button" }, "Download receipt");
    save.addEventListener("click", () =>
      download(`receipt-round${receipt.round}-model${receipt.model_id}.json`, JSON.stringify(receipt, null, 2) + "\n"));
    replace(box, h("div", { class: "card receipt-card", "data-receipt": receipt.signature },
      h("h3", null, "Operator's receipt"),
      h("dl", null,
        h("dt", null, "Round"), h("dd", null, String(receipt.round)),
        h("dt", null, "Model"), h("dd", null, String(receipt.model_id)),
        h("dt", null, "Predictions hash"), h("dd", null, h("code", null, receipt.predictions_hash)),
        h("dt", null, "Received at"), h("dd", null, `${formatTime(receipt.received_at)} (chain time ${receipt.received_at})`),
        h("dt", null, "Operator"), h("dd", null, h("code", null, receipt.operator)),
        h("dt", null, "Signature"), h("dd", null, h("code", { class: "wrap" }, receipt.signature))),
      problem
        ? notice("warn", `This receipt is not genuine: ${problem}. Keep it as evidence.`)
        : notice("ok", "Signature checked in your browser: signed by the tournament's operator. Keep this receipt: "
            + "if the round's results leave your file out, it proves you submitted in time."),
      save));
  }

  void start();
  return () => {
    alive = false;
    for (const off of listeners) off();
  };
}
