import { describe, expect, it } from "vitest";
import { safeHref } from "../src/app/dom";
import { safeIcon } from "../src/chain/wallets";

describe("safeIcon", () => {
  it("shows only data: images", () => {
    expect(safeIcon("data:image/png;base64,iVBORw0KGgo=")).toBe("data:image/png;base64,iVBORw0KGgo=");
    expect(safeIcon("data:image/svg+xml,%3Csvg%3E")).toBe("data:image/svg+xml,%3Csvg%3E");
    expect(safeIcon("https://evil.example/track.png")).toBeNull();
    expect(safeIcon("javascript:alert(1)")).toBeNull();
    expect(safeIcon("data:text/html,<script>")).toBeNull();
  });
});

describe("safeHref", () => {
  it("keeps relative and http(s) links, drops script and data", () => {
    expect(safeHref("bundles/0xab/files/tree.json")).toBe("bundles/0xab/files/tree.json");
    expect(safeHref("https://store.example/r/1/manifest.json")).toBe("https://store.example/r/1/manifest.json");
    expect(safeHref(" javascript:alert(1)")).toBeNull();
    expect(safeHref("JavaScript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,<script>")).toBeNull();
    expect(safeHref("//evil.example/x")).toBeNull();
  });
});
