/** Finds the browser's wallets: EIP-6963 announcements (several wallets side by side), and the legacy
 * `window.ethereum` (EIP-1193) when no wallet announces itself. */

import type { EIP1193Provider } from "viem";

export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string; // a data: URI (EIP-6963); shown only when it is an image
  rdns: string;
}

export interface Wallet {
  info: WalletInfo;
  provider: EIP1193Provider;
}

interface AnnounceEvent extends Event {
  detail: { info: WalletInfo; provider: EIP1193Provider };
}

/** Wallets that answer within `waitMs`. Announcements arriving later are passed to `onLate`. */
export function discoverWallets(waitMs = 400, onLate?: (w: Wallet) => void): Promise<Wallet[]> {
  const found = new Map<string, Wallet>();
  let settled = false;
  const listener = (event: Event) => {
    const detail = (event as AnnounceEvent).detail;
    if (!detail?.info?.uuid || typeof detail.provider?.request !== "function") return;
    const wallet = { info: detail.info, provider: detail.provider };
    const isNew = !found.has(detail.info.uuid);
    found.set(detail.info.uuid, wallet);
    if (settled && isNew) onLate?.(wallet);
  };
  window.addEventListener("eip6963:announceProvider", listener);
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  return new Promise((resolve) => {
    setTimeout(() => {
      settled = true;
      const wallets = [...found.values()];
      const legacy = (window as unknown as { ethereum?: EIP1193Provider }).ethereum;
      if (wallets.length === 0 && legacy && typeof legacy.request === "function") {
        wallets.push({ info: { uuid: "legacy", name: "Browser wallet", icon: "", rdns: "legacy.window.ethereum" },
          provider: legacy });
      }
      resolve(wallets);
    }, waitMs);
  });
}

/** Whether a wallet's announced icon may be shown (only images as data: URIs; never a remote URL or SVG script). */
export function safeIcon(icon: string): string | null {
  return /^data:image\/(png|jpeg|webp|gif|svg\+xml)[;,]/.test(icon) ? icon : null;
}
