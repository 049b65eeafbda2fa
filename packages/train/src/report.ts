import type { StepInfo } from './qat.js';

/** A loss curve as a standalone SVG (log-scale y, the quant_delay step marked). */
export function lossCurveSvg(history: StepInfo[], opts: { quantDelay?: number; title?: string } = {}): string {
  const W = 640, H = 320, L = 60, R = 20, T = 30, B = 40;
  const ys = history.map((h) => Math.log10(Math.max(h.loss, 1e-12)));
  const ymin = Math.min(...ys), ymax = Math.max(...ys);
  const xs = history.map((h) => h.step);
  const xmin = Math.min(...xs), xmax = Math.max(...xs, xmin + 1);
  const px = (s: number) => L + ((s - xmin) / (xmax - xmin)) * (W - L - R);
  const py = (v: number) => T + (1 - (v - ymin) / Math.max(ymax - ymin, 1e-9)) * (H - T - B);
  const path = history.map((h, i) => `${i ? 'L' : 'M'}${px(h.step).toFixed(1)},${py(ys[i]!).toFixed(1)}`).join('');
  const ticks = [ymin, (ymin + ymax) / 2, ymax].map((v) => `<text x="${L - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${(10 ** v).toExponential(1)}</text>`).join('');
  const delay = opts.quantDelay && opts.quantDelay >= xmin && opts.quantDelay <= xmax
    ? `<line x1="${px(opts.quantDelay)}" x2="${px(opts.quantDelay)}" y1="${T}" y2="${H - B}" stroke="#c33" stroke-dasharray="4 3"/><text x="${px(opts.quantDelay) + 4}" y="${T + 12}" font-size="11" fill="#c33">quant_delay</text>`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${opts.title ?? 'loss'}</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
${ticks}<text x="${L}" y="${H - 12}" font-size="11">step ${xmin}</text><text x="${W - R}" y="${H - 12}" font-size="11" text-anchor="end">${xmax}</text>
${delay}<path d="${path}" fill="none" stroke="#4e79a7" stroke-width="1.5"/>
</svg>
`;
}
