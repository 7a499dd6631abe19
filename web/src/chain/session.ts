/** A connected wallet and the tournament's contracts, with the ABIs the service publishes (read at run time, so a
 * redeployed contract with another ABI needs no new build). Every transaction is simulated first, so a revert is
 * explained before the wallet asks for a signature. */

import {
  createClient, custom, defineChain, getAddress, parseEventLogs, parseSignature,
  type Abi, type AbiFunction, type Address, type Chain, type Client, type EIP1193Provider, type Hex,
  type TransactionReceipt, type Transport,
} from "viem";
// Actions one by one rather than the public/wallet client decorators: the bundle then carries only these.
import {
  getBlock, readContract, signTypedData, simulateContract, waitForTransactionReceipt, writeContract,
} from "viem/actions";
import type { ContractInfo, Info } from "../app/api";
import { describeError, type Units } from "./errors";
import { permitTypedData, submissionTypedData } from "./typed";

export type Status = (text: string) => void;

/** The union of the ABIs' error entries, so a revert from the token (inside a stake) decodes too. */
export function errorAbi(...abis: Abi[]): Abi {
  const seen = new Set<string>();
  const out: Abi = [];
  for (const abi of abis) {
    for (const item of abi) {
      if (item.type !== "error") continue;
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
      if (!seen.has(key)) {
        seen.add(key);
        (out as unknown[]).push(item);
      }
    }
  }
  return out;
}

export function abiFunction(abi: Abi, name: string): AbiFunction | undefined {
  return abi.find((item): item is AbiFunction => item.type === "function" && item.name === name);
}

export class Session {
  readonly client: Client<Transport, Chain>;
  readonly tournamentAbi: Abi;
  readonly tokenAbi: Abi;
  readonly errors: Abi;
  readonly units: Units;

  constructor(
    readonly provider: EIP1193Provider,
    readonly account: Address,
    readonly info: Info,
    readonly contract: ContractInfo,
  ) {
    const chain = defineChain({
      id: contract.chain_id, name: `chain ${contract.chain_id}`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [] } },
    });
    this.client = createClient({ chain, transport: custom(provider), pollingInterval: 1000 });
    this.tournamentAbi = contract.tournament.abi as Abi;
    this.tokenAbi = contract.token.abi as Abi;
    this.errors = errorAbi(this.tournamentAbi, this.tokenAbi);
    this.units = { decimals: info.token.decimals, symbol: info.token.symbol };
  }

  get tournament(): Address {
    return getAddress(this.contract.tournament.address);
  }

  get token(): Address {
    return getAddress(this.contract.token.address);
  }

  has(name: string): boolean {
    return abiFunction(this.tournamentAbi, name) !== undefined;
  }

  explain(err: unknown): string {
    return describeError(err, [...this.tournamentAbi, ...this.errors], this.units);
  }

  async chainTime(): Promise<bigint> {
    return (await getBlock(this.client, { blockTag: "latest" })).timestamp;
  }

  async tokenBalance(): Promise<bigint> {
    return (await readContract(this.client, { address: this.token, abi: this.tokenAbi, functionName: "balanceOf",
      args: [this.account] })) as bigint;
  }

  /** Simulates, sends, and waits for a tournament call; resolves with the mined receipt, or throws an Error whose
   * message is in words. */
  async send(functionName: string, args: readonly unknown[], status: Status): Promise<TransactionReceipt> {
    if (!this.has(functionName)) {
      throw new Error(`The deployed contract has no ${functionName} function (its ABI from the service lacks it).`);
    }
    const abi = [...this.tournamentAbi, ...this.errors] as Abi;
    let hash: Hex;
    try {
      status("Checking the transaction against the chain…");
      const { request } = await simulateContract(this.client, { address: this.tournament, abi, functionName, args,
        account: this.account });
      status("Confirm the transaction in your wallet…");
      hash = await writeContract(this.client, { ...request, account: this.account, chain: this.client.chain } as never);
    } catch (err) {
      throw new Error(this.explain(err));
    }
    status(`Sent ${hash}; waiting for it to be mined…`);
    let receipt: TransactionReceipt;
    try {
      receipt = await waitForTransactionReceipt(this.client, { hash, pollingInterval: 1000, timeout: 300_000 });
    } catch (err) {
      throw new Error(`Transaction ${hash} was sent but no receipt arrived: ${this.explain(err)}`);
    }
    if (receipt.status !== "success") {
      throw new Error(`Transaction ${hash} was mined in block ${receipt.blockNumber} but reverted; nothing changed.`);
    }
    return receipt;
  }

  /** Registers a model; resolves with its id (from the ModelRegistered event). */
  async registerModel(status: Status): Promise<{ modelId: number; receipt: TransactionReceipt }> {
    const receipt = await this.send("registerModel", [], status);
    const events = parseEventLogs({ abi: this.tournamentAbi, logs: receipt.logs, eventName: "ModelRegistered" });
    const first = events[0] as unknown as { args: { modelId: bigint } } | undefined;
    if (!first) throw new Error("The model was registered but the transaction has no ModelRegistered event.");
    return { modelId: Number(first.args.modelId), receipt };
  }

  /** EIP-712 domain of the token's permit: EIP-5267 `eip712Domain()` when the token has it, else its name and
   * version "1" (OpenZeppelin's ERC20Permit default). */
  private async permitDomain(): Promise<{ name: string; version: string }> {
    if (abiFunction(this.tokenAbi, "eip712Domain")) {
      const domain = (await readContract(this.client, { address: this.token, abi: this.tokenAbi,
        functionName: "eip712Domain" })) as readonly unknown[];
      return { name: String(domain[1]), version: String(domain[2]) };
    }
    const name = await readContract(this.client, { address: this.token, abi: this.tokenAbi, functionName: "name" });
    return { name: String(name), version: "1" };
  }

  /** Stake with an EIP-2612 permit: one signature (eth_signTypedData_v4), then one transaction. */
  async stakeWithPermit(modelId: number, amount: bigint, status: Status): Promise<TransactionReceipt> {
    let signature: Hex;
    let deadline: bigint;
    try {
      status("Reading the token's permit nonce…");
      const [domain, nonce, now] = await Promise.all([
        this.permitDomain(),
        readContract(this.client, { address: this.token, abi: this.tokenAbi, functionName: "nonces",
          args: [this.account] }) as Promise<bigint>,
        this.chainTime(),
      ]);
      deadline = now + 3600n;
      status("Sign the permit in your wallet (no transaction yet)…");
      signature = await signTypedData(this.client, { account: this.account, ...permitTypedData({
        name: domain.name, version: domain.version, chainId: this.contract.chain_id, token: this.token,
        owner: this.account, spender: this.tournament, value: amount, nonce, deadline }) });
    } catch (err) {
      throw new Error(this.explain(err));
    }
    const { r, s, v, yParity } = parseSignature(signature);
    const vByte = v !== undefined ? Number(v) : 27 + (yParity ?? 0);
    return this.send("stakeWithPermit", [BigInt(modelId), amount, deadline, vByte, r, s], status);
  }

  /** Signs a prediction file's submission (EIP-712, eth_signTypedData_v4); the deadline is the round's close. */
  async signSubmission(args: { round: number; modelId: number; predictionsHash: Hex; deadline: number }): Promise<Hex> {
    try {
      return await signTypedData(this.client, { account: this.account, ...submissionTypedData({
        chainId: this.info.chain_id, tournament: this.info.tournament, ...args }) });
    } catch (err) {
      throw new Error(this.explain(err));
    }
  }
}
