import type { EvalPoint, QatResult, StepInfo } from './qat.js';

interface Series {
  label: string;
  color: string;
  points: [number, number][];
  dash?: boolean;
  width?: number;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (v: number) => (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

/** One linear-axis line chart as standalone SVG; `marker` draws a dashed vertical line (quant_delay). */
export function lineChartSvg(series: Series[], opts: { title: string; xLabel?: string; marker?: { x: number; label: string } } = { title: '' }): string {
  const W = 640, H = 300, L = 64, R = 16, T = 30, B = 44;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x), ys = all.map(([, y]) => y);
  const xmin = Math.min(...xs, 0), xmax = Math.max(...xs, xmin + 1);
  let ymin = Math.min(...ys), ymax = Math.max(...ys);
  if (!all.length) [ymin, ymax] = [0, 1];
  if (ymax - ymin < 1e-12) [ymin, ymax] = [ymin - 0.5, ymax + 0.5];
  const pad = (ymax - ymin) * 0.05;
  [ymin, ymax] = [ymin - pad, ymax + pad];
  const px = (x: number) => L + ((x - xmin) / (xmax - xmin)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - ymin) / (ymax - ymin)) * (H - T - B);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ymin + f * (ymax - ymin))
    .map((v) => `<line x1="${L}" x2="${W - R}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" stroke="#eee"/><text x="${L - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(v)}</text>`).join('');
  const lines = series.map((s) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (pts.length === 1) return `<circle cx="${px(pts[0]![0]).toFixed(1)}" cy="${py(pts[0]![1]).toFixed(1)}" r="3" fill="${s.color}"/>`;
    const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${s.dash ? ' stroke-dasharray="5 3"' : ''}/>`;
  }).join('');
  const legend = series.map((s, i) => `<rect x="${L + 8 + i * 150}" y="${H - 14}" width="12" height="3" fill="${s.color}"/><text x="${L + 24 + i * 150}" y="${H - 10}" font-size="11">${esc(s.label)}</text>`).join('');
  const m = opts.marker && opts.marker.x >= xmin && opts.marker.x <= xmax
    ? `<line x1="${px(opts.marker.x)}" x2="${px(opts.marker.x)}" y1="${T}" y2="${H - B}" stroke="#c33" stroke-dasharray="4 3"/><text x="${px(opts.marker.x) + 4}" y="${T + 12}" font-size="11" fill="#c33">${esc(opts.marker.label)}</text>`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(opts.title)}</text>
${ticks}<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
<text x="${L}" y="${H - B + 14}" font-size="11">${opts.xLabel ?? 'step'} ${fmt(xmin)}</text><text x="${W - R}" y="${H - B + 14}" font-size="11" text-anchor="end">${fmt(xmax)}</text>
${m}${lines}${legend}
</svg>
`;
}

/** Trailing moving average over `k` points (the first points average what there is). */
export function movingAverage(v: number[], k: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    sum += v[i]!;
    if (i >= k) sum -= v[i - k]!;
    out.push(sum / Math.min(i + 1, k));
  }
  return out;
}

/**
 * The loss on a linear axis with its moving average and the quant_delay step marked (a log
 * axis turned a distillation loss of exactly 0 before quant_delay into a flat 1e-12 line).
 */
export function lossCurveSvg(history: StepInfo[], opts: { quantDelay?: number; title?: string } = {}): string {
  const k = Math.max(1, Math.round(history.length / 20));
  const avg = movingAverage(history.map((h) => h.loss), k);
  return lineChartSvg(
    [
      { label: 'loss', color: '#a0c4e8', points: history.map((h) => [h.step, h.loss]) },
      { label: `moving average (${k})`, color: '#1f4e79', points: history.map((h, i) => [h.step, avg[i]!]), width: 2 },
    ],
    { title: opts.title ?? 'loss', marker: opts.quantDelay ? { x: opts.quantDelay, label: 'quant_delay' } : undefined },
  );
}

/** Validation metric per evaluation, quantized vs float. */
export function metricSvg(evals: EvalPoint[], metric: string, quantDelay?: number): string {
  return lineChartSvg(
    [
      { label: `${metric} float`, color: '#59a14f', points: evals.filter((p) => p.float !== undefined).map((p) => [p.step, p.float!]), dash: true },
      { label: `${metric} quantized`, color: '#e15759', points: evals.filter((p) => p.quantized !== undefined).map((p) => [p.step, p.quantized!]) },
    ],
    { title: `validation ${metric}`, marker: quantDelay ? { x: quantDelay, label: 'quant_delay' } : undefined },
  );
}

/** [min, max] of one fake-quant site over training. */
export function rangeSvg(track: QatResult['rangeTrack'], site: number, name: string): string {
  return lineChartSvg(
    [
      { label: 'min', color: '#4e79a7', points: track.map((t) => [t.step, t.ranges[site]![0]]) },
      { label: 'max', color: '#f28e2b', points: track.map((t) => [t.step, t.ranges[site]![1]]) },
    ],
    { title: name },
  );
}

/** One self-contained HTML page for a run: loss, validation metric, every site's range track. */
export function trainingReportHtml(r: Pick<QatResult, 'history' | 'evals' | 'rangeTrack' | 'rangeNames'>, opts: { title?: string; metric?: string; quantDelay?: number } = {}): string {
  const parts = [lossCurveSvg(r.history, { quantDelay: opts.quantDelay, title: 'training loss' })];
  if (r.evals.length) parts.push(metricSvg(r.evals, opts.metric ?? 'metric', opts.quantDelay));
  const ranges = r.rangeNames.map((n, i) => `<figure>${rangeSvg(r.rangeTrack, i, n)}</figure>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(opts.title ?? 'tfpass qat')}</title>
<style>body{font-family:sans-serif;margin:16px;background:#fafafa}figure{display:inline-block;margin:6px;background:white;border:1px solid #ddd}h2{font-size:16px}</style></head>
<body><h1>${esc(opts.title ?? 'tfpass qat')}</h1>
${parts.map((p) => `<figure>${p}</figure>`).join('\n')}
<h2>fake-quant ranges over training (${r.rangeNames.length} sites)</h2>
${ranges}
</body></html>
`;
}
