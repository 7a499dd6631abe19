// A real local chain for the fixture service's live mode: Anvil, the token and the tournament deployed from the
// brownie build (`make compile` at the repository root writes build/contracts), and a small history so every
// wallet action has something to act on:
//   - accounts #1 and #2 each hold 10,000 tokens; the reserve holds 100,000;
//   - #1 owns model 1 (1,000 staked), #2 owns model 2 (500 staked);
//   - round 1 closed, its root proposed (model 1 paid 30, model 2 burned 10) and activated after the challenge
//     window; models are not settled yet;
//   - round 2 open for two hours.
// Writes the JSON the fixture service reads (FIXTURE_CHAIN) and, run directly, keeps Anvil up until interrupted:
//   node scripts/dev-chain.mjs [out.json]

import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  createPublicClient, createWalletClient, http, keccak256, parseEventLogs, toHex,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..");
const BUILD = process.env.TOURNEY_BUILD ?? resolve(REPO, "build", "contracts");
const ANVIL = process.env.ANVIL ?? resolve(REPO, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
// Anvil's published development mnemonic: public test keys, worthless off a local chain.
const MNEMONIC = "test test test test test test test test test test test junk";
const UNIT = 10n ** 18n;

function artifact(name) {
  const path = resolve(BUILD, `${name}.json`);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`make compile\` at the repository root (or set TOURNEY_BUILD)`);
  }
  const data = JSON.parse(readFileSync(path, "utf8"));
  return { abi: data.abi, bytecode: data.bytecode.startsWith("0x") ? data.bytecode : `0x${data.bytecode}` };
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function waitForRpc(url, process, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (process.exitCode !== null) throw new Error(`anvil exited with code ${process.exitCode}`);
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
      if (res.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`anvil did not answer at ${url} within ${seconds} s`);
}

/** Starts Anvil, deploys and plays the history above; resolves with { url, chain, stop }. */
export async function startDevChain(outPath) {
  const token = artifact("TournamentToken");
  const tournament = artifact("Tournament");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const anvil = spawn(ANVIL, ["--port", String(port), "--silent", "--mnemonic", MNEMONIC], { stdio: "ignore" });
  const stop = () => { if (anvil.exitCode === null) anvil.kill("SIGTERM"); };
  try {
    await waitForRpc(url, anvil);
    const accounts = [0, 1, 2].map((i) => mnemonicToAccount(MNEMONIC, { addressIndex: i }));
    const pub = createPublicClient({ transport: http(url) });
    const chainId = await pub.getChainId();
    const chain = { id: chainId, name: "anvil", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [url] } } };
    const wallets = accounts.map((account) => createWalletClient({ account, chain, transport: http(url) }));
    const [admin, alice, bob] = wallets;
    const mined = async (hash) => {
      const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
      return receipt;
    };
    const rpc = (method, params = []) => pub.request({ method, params });

    const tokenReceipt = await mined(await admin.deployContract({ abi: token.abi, bytecode: token.bytecode,
      args: ["Tournament Stake", "STK", 11_000_000n * UNIT, admin.account.address] }));
    const tokenAddress = tokenReceipt.contractAddress;
    const tReceipt = await mined(await admin.deployContract({ abi: tournament.abi, bytecode: tournament.bytecode,
      args: [tokenAddress, admin.account.address, 3600, 500, 500] }));
    const tAddress = tReceipt.contractAddress;
    const call = (wallet, abi, address, functionName, args = []) =>
      wallet.writeContract({ address, abi, functionName, args }).then(mined);
    const onT = (wallet, fn, args) => call(wallet, tournament.abi, tAddress, fn, args);
    const onToken = (wallet, fn, args) => call(wallet, token.abi, tokenAddress, fn, args);

    const oracleRole = await pub.readContract({ address: tAddress, abi: tournament.abi, functionName: "ORACLE_ROLE" });
    await onT(admin, "grantRole", [oracleRole, admin.account.address]);
    for (const who of [alice, bob]) await onToken(admin, "transfer", [who.account.address, 10_000n * UNIT]);
    await onToken(admin, "approve", [tAddress, 100_000n * UNIT]);
    await onT(admin, "fundReserve", [100_000n * UNIT]);
    for (const [who, amount] of [[alice, 1000n], [bob, 500n]]) {
      const receipt = await onT(who, "registerModel");
      const [event] = parseEventLogs({ abi: tournament.abi, logs: receipt.logs, eventName: "ModelRegistered" });
      await onToken(who, "approve", [tAddress, amount * UNIT]);
      await onT(who, "stake", [event.args.modelId, amount * UNIT]);
    }

    const now = async () => (await pub.getBlock({ blockTag: "latest" })).timestamp;
    const advance = async (seconds) => { await rpc("evm_increaseTime", [seconds]); await rpc("evm_mine"); };
    await onT(admin, "openRound", [Number(await now()) + 60]);
    await advance(120);
    await onT(admin, "closeRound", [1]);
    const leaves = [[1n, 30n * UNIT, 0n], [2n, 0n, 10n * UNIT]];
    const tree = StandardMerkleTree.of(leaves, ["uint256", "uint256", "uint256"]);
    await onT(admin, "proposeRoot", [1, tree.root, 30n * UNIT, 10n * UNIT, 1500n * UNIT,
      keccak256(toHex("dev-chain manifest of round 1")), "file:///dev-chain/rounds/1/manifest.json"]);
    await advance(3601);
    await onT(admin, "activateRoot", [1]);
    await onT(admin, "openRound", [Number(await now()) + 2 * 3600]);

    const out = {
      rpc: url, chain_id: chainId, token: tokenAddress, tournament: tAddress,
      deployment_block: Number(tokenReceipt.blockNumber), token_abi: token.abi, tournament_abi: tournament.abi,
      participants: [alice.account.address, bob.account.address],
      trees: { 1: { status: "active", dump: JSON.parse(JSON.stringify(tree.dump(), (_k, v) =>
        (typeof v === "bigint" ? v.toString() : v))) } },
    };
    if (outPath) writeFileSync(outPath, JSON.stringify(out, null, 2) + "\n");
    return { url, chain: out, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outPath = resolve(process.argv[2] ?? resolve(HERE, "..", "dev-fixtures", "chain.json"));
  const { url, stop } = await startDevChain(outPath);
  console.log(`anvil at ${url}; wrote ${outPath}`);
  console.log(`serve the app against it: FIXTURE_CHAIN=${outPath} npm run dev   (Ctrl-C here stops the chain)`);
  const quit = () => { stop(); process.exit(0); };
  process.on("SIGINT", quit);
  process.on("SIGTERM", quit);
  setInterval(() => {}, 1 << 30);
}
