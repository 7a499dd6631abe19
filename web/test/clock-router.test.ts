import { describe, expect, it } from "vitest";
import { ChainClock, countdownText } from "../src/app/clock";
import { parseRoute } from "../src/app/router";

describe("ChainClock", () => {
  it("runs from the last chain time reported, not from the wall clock", () => {
    let wall = 1_000;
    const clock = new ChainClock(() => wall);
    expect(clock.now()).toBeNull();
    expect(clock.until(5_000)).toBeNull();
    clock.sync(50_000, 12); // the chain is 49,000 s ahead of this wall clock
    wall += 30;
    expect(clock.now()).toBe(50_030);
    expect(clock.until(50_100)).toBe(70);
    expect(clock.block).toBe(12);
    clock.sync(50_010); // a re-sync moves the estimate back to the chain's report
    expect(clock.now()).toBe(50_010);
  });

  it("words countdowns", () => {
    expect(countdownText(null, "now")).toBe("…");
    expect(countdownText(125, "now")).toBe("2 min 05 s");
    expect(countdownText(0, "closed")).toBe("closed");
    expect(countdownText(-4, "closed")).toBe("closed");
  });
});

describe("parseRoute", () => {
  it("maps hashes to pages", () => {
    expect(parseRoute("").page).toBe("leaderboard");
    expect(parseRoute("#/").page).toBe("leaderboard");
    expect(parseRoute("#/rounds").page).toBe("rounds");
    expect(parseRoute("#/wallet?round=12").params.get("round")).toBe("12");
    expect(parseRoute("#/model/42")).toMatchObject({ page: "model", modelId: 42 });
    expect(parseRoute("#/?q=0xab&sort=corr")).toMatchObject({ page: "leaderboard", path: "/" });
    expect(parseRoute("#/?q=0xab&sort=corr").params.get("sort")).toBe("corr");
  });

  it("refuses what is not a page", () => {
    expect(parseRoute("#/model/0").page).toBe("not-found");
    expect(parseRoute("#/model/4x").page).toBe("not-found");
    expect(parseRoute("#/model/42/extra").page).toBe("not-found");
    expect(parseRoute("#/admin").page).toBe("not-found");
  });
});
