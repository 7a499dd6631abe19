import { describe, expect, it } from "vitest";
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
