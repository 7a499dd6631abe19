/** Per-round charts (uPlot: small, fast, canvas). Each chart's container carries its data as JSON in
 * `data-chart`, so tests can assert what is drawn without reading pixels. */

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  /** Draw as bars; several bar series per round sit side by side (left, centre, right). */
  bars?: "left" | "centre" | "right";
}

export interface ChartSpec {
  title: string;
  rounds: number[];
  series: Series[];
  unit?: string;
  digits?: number;
}

const HEIGHT = 220;

/** A chart of values per round. Rendered once the container is in the document (uPlot measures it) and
 * resized with it. Returns the container. */
export function roundChart(spec: ChartSpec): HTMLElement {
  const box = h("figure", { class: "chart", "data-chart": JSON.stringify({
    title: spec.title, rounds: spec.rounds, series: Object.fromEntries(spec.series.map((s) => [s.label, s.values])),
  }) }, h("figcaption", null, spec.title));
  const plotHost = h("div", { class: "chart-plot" });
  box.appendChild(plotHost);
  if (spec.rounds.length === 0) {
    plotHost.appendChild(h("p", { class: "muted" }, "No rounds with results yet."));
    return box;
  }
  const digits = spec.digits ?? 4;
  // Axis and grid colours follow the page's theme (light or dark) instead of uPlot's black.
  const css = getComputedStyle(document.documentElement);
  const ink = css.getPropertyValue("--muted").trim() || "#6b6f76";
  const grid = { stroke: css.getPropertyValue("--line").trim() || "#e3e3df", width: 1 };
  const hasBars = spec.series.some((s) => s.bars);
  const align = { left: -1, centre: 0, right: 1 } as const;
  const barPaths = (where: "left" | "centre" | "right") =>
    uPlot.paths.bars?.({ align: align[where], size: [where === "centre" ? 0.6 : 0.35, 40] });
  const opts: uPlot.Options = {
    width: 600,
    height: HEIGHT,
    // Bars need half a round of room on either side, or the first and last are cut in half.
    scales: { x: { time: false, range: hasBars ? (_u, min, max) => [min - 0.6, max + 0.6] : undefined } },
    axes: [
      { label: "round", stroke: ink, grid, ticks: grid,
        values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : "")) },
      { label: spec.unit ?? "", size: 70, stroke: ink, grid, ticks: grid,
        values: (_u, ticks) => ticks.map((t) => t.toFixed(digits > 2 ? 3 : 1)) },
    ],
    series: [
      { label: "round" },
      ...spec.series.map((s) => ({
        label: s.label, stroke: s.color, width: s.bars ? 1 : 2, fill: s.bars ? `${s.color}99` : undefined,
        paths: s.bars ? barPaths(s.bars) : undefined, points: { show: !s.bars && spec.rounds.length < 40 },
        value: (_u: uPlot, v: number | null) => (v === null ? "—" : v.toFixed(digits)),
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  const data: uPlot.AlignedData = [spec.rounds, ...spec.series.map((s) => s.values)];
  // uPlot needs a measured width: create the plot on the first resize observation (i.e. once attached).
  let plot: uPlot | null = null;
  const observer = new ResizeObserver((entries) => {
    const width = Math.max(280, Math.floor(entries[0]!.contentRect.width));
    if (!plot) plot = new uPlot({ ...opts, width }, data, plotHost);
    else if (Math.abs(plot.width - width) > 2) plot.setSize({ width, height: HEIGHT });
    if (!box.isConnected) observer.disconnect();
  });
  observer.observe(plotHost);
  return box;
}
