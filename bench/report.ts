/**
 * The outputs of a run: a table on stdout, JSON for machines and an HTML page
 * with a latency CDF per distribution (inline SVG, no scripts, no network).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ScenarioResult } from "./scenario";
import { cdf, ratio, round } from "./stats";

export interface RunInfo {
  command: string;
  startedAt: string;
  machine: { cpus: string; cores: number; memoryGiB: number; node: string; platform: string };
  overrides: Record<string, string>;
  /** Where Durable Object storage lived (its disk's fsync is part of every commit). */
  persistRoot: string;
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : String(round(x)));

export function table(result: ScenarioResult): string {
  const lines: string[][] = [["metric", "unit", "edgechat", "floor", "x floor"]];
  for (const r of result.rows) {
    const x = ratio(r.edgechat, r.floor);
    lines.push([r.metric, r.unit, fmt(r.edgechat), fmt(r.floor), x === undefined ? "-" : `${round(x)}x`]);
  }
  const widths = lines[0]!.map((_, col) => Math.max(...lines.map((l) => l[col]!.length)));
  const render = (l: string[]) => l.map((cell, col) => (col < 2 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  ");
  const out = [`== ${result.scenario} ${JSON.stringify(result.params)}`, render(lines[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...lines.slice(1).map(render)];
  if (result.costs) {
    const per = Object.entries(result.costs.perUnit)
      .filter(([k]) => k !== "shed" || result.costs!.totals.shed)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ");
    out.push(`cost per ${result.costs.per} (${result.costs.count}): ${per}`);
    const sql = Object.entries(result.costs.totals.sql ?? {}).sort(([, a], [, b]) => b.rowsRead + b.rowsWritten - (a.rowsRead + a.rowsWritten));
    if (sql.length > 0) out.push(`SQL per ${result.costs.per} (--profile), by rows touched:`);
    for (const [statement, e] of sql.slice(0, 15)) {
      const n = result.costs.count;
      out.push(`  calls ${fmt(e.calls / n).padStart(6)}  read ${fmt(e.rowsRead / n).padStart(6)}  written ${fmt(e.rowsWritten / n).padStart(6)}  ${statement}`);
    }
  }
  for (const b of result.budgets) out.push(`budget ${b.met ? "met " : "MISSED"} ${b.name} ${b.limit}: ${fmt(b.measured)}`);
  for (const c of result.checks) out.push(`check ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  for (const n of result.notes) out.push(`note: ${n}`);
  return out.join("\n");
}

/** Writes bench/results/<scenario>-<timestamp>.json and .html; returns their paths. */
export function writeResults(dir: string, name: string, info: RunInfo, results: ScenarioResult[]): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = info.startedAt.replace(/[:.]/g, "-");
  const json = join(dir, `${name}-${stamp}.json`);
  const html = join(dir, `${name}-${stamp}.html`);
  const forJson = results.map((r) => ({ ...r, distributions: r.distributions.map((d) => ({ name: d.name, cdf: mapValues(d.samples, (s) => cdf(s, 100)) })) }));
  writeFileSync(json, `${JSON.stringify({ ...info, results: forJson }, null, 2)}\n`);
  writeFileSync(html, page(info, results));
  return { json, html };
}

function mapValues<T, U>(record: Partial<Record<string, T>>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).flatMap(([k, v]) => (v === undefined ? [] : [[k, fn(v)]])));
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const COLORS: Record<string, string> = { edgechat: "#d9480f", floor: "#1c7ed6" };

function page(info: RunInfo, results: ScenarioResult[]): string {
  const sections = results.map((r) => {
    const charts = r.distributions.filter((d) => Object.values(d.samples).some((s) => s && s.length > 0)).map((d) => cdfSvg(d.name, d.samples));
    return `<section><h2>${escape(r.scenario)}</h2><p><code>${escape(JSON.stringify(r.params))}</code></p><pre>${escape(table(r))}</pre>${charts.join("")}</section>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>edgechat bench ${escape(info.startedAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:980px}pre{background:#f6f6f6;padding:1em;overflow:auto}code{overflow-wrap:anywhere}svg{margin:1em 0}</style></head>
<body><h1>edgechat benchmark</h1><p><code>${escape(info.command)}</code> at ${escape(info.startedAt)}<br>${escape(info.machine.cpus)}, ${info.machine.cores} cores, ${info.machine.memoryGiB} GiB, Node ${escape(info.machine.node)}<br>
Overrides of wrangler.toml: <code>${escape(JSON.stringify(info.overrides))}</code><br>Storage under <code>${escape(info.persistRoot)}</code></p>${sections.join("")}</body></html>\n`;
}

/** A CDF on a log-scaled latency axis: one line per target. */
function cdfSvg(title: string, samples: Partial<Record<string, number[]>>): string {
  const W = 900;
  const H = 300;
  const pad = { l: 50, r: 20, t: 30, b: 40 };
  const series = mapValues(samples, (s) => cdf(s, 300));
  const all = Object.values(series).flat();
  const lo = Math.max(0.01, Math.min(...all.map(([v]) => v)));
  const hi = Math.max(lo * 10, ...all.map(([v]) => v));
  const x = (v: number) => pad.l + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - pad.l - pad.r);
  const y = (p: number) => H - pad.b - p * (H - pad.t - pad.b);
  const ticks: string[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < lo || v > hi) continue;
      ticks.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#eee"/><text x="${x(v)}" y="${H - pad.b + 15}" font-size="11" text-anchor="middle">${round(v)}</text>`);
    }
  }
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 1]) ticks.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(p)}" y2="${y(p)}" stroke="#eee"/><text x="${pad.l - 5}" y="${y(p) + 4}" font-size="11" text-anchor="end">${p}</text>`);
  const lines = Object.entries(series).map(([name, points], i) => {
    const d = points.map(([v, p], j) => `${j === 0 ? "M" : "L"}${x(v).toFixed(1)},${y(p).toFixed(1)}`).join("");
    return `<path d="${d}" fill="none" stroke="${COLORS[name] ?? "#333"}" stroke-width="2"/><text x="${W - pad.r - 120}" y="${pad.t + 15 + i * 16}" fill="${COLORS[name] ?? "#333"}" font-size="12">${escape(name)} (${samples[name]?.length ?? 0})</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}"><text x="${pad.l}" y="18" font-size="13" font-weight="bold">${escape(title)}: fraction at or below (CDF), log scale</text>${ticks.join("")}${lines.join("")}<text x="${W / 2}" y="${H - 5}" font-size="11" text-anchor="middle">ms</text></svg>`;
}
