import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViewData } from './model.js';

const here = dirname(fileURLToPath(import.meta.url));

function asset(name: string): string {
  // src/ and dist/ both sit next to the other; the page script ships in src/.
  for (const p of [join(here, name), join(here, '..', 'src', name)]) {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      /* try next */
    }
  }
  throw new Error(`view asset ${name} not found`);
}

function dagreSource(): string {
  const req = createRequire(import.meta.url);
  return readFileSync(join(dirname(req.resolve('@dagrejs/dagre/package.json')), 'dist', 'dagre.js'), 'utf8');
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Keep embedded JSON and scripts from closing their <script> element early. */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const CSS = `
body{margin:0;font:13px system-ui,sans-serif;display:grid;grid-template-columns:1fr 360px;grid-template-rows:auto 1fr;height:100vh;color:#222}
header{grid-column:1/3;display:flex;gap:12px;align-items:center;padding:6px 10px;border-bottom:1px solid #ddd;flex-wrap:wrap}
header h1{font-size:15px;margin:0}
#canvas{width:100%;height:100%;background:#fafafa;cursor:grab}
#details{overflow:auto;border-left:1px solid #ddd;padding:8px 12px}
#details h2{font-size:14px;word-break:break-all;margin:4px 0}
.op{font-weight:600;color:#555}
table.attrs td{vertical-align:top;padding:2px 4px;border-bottom:1px solid #eee;word-break:break-all}
.node text{font-size:11px;fill:#111;pointer-events:none}
.node text.sub{font-size:9px;fill:#333}
.node{cursor:pointer}
.node rect{stroke:#555;stroke-width:.6}
.node.scope rect{stroke-dasharray:4 2;stroke:#778}
.node.selected rect{stroke:#000;stroke-width:2.5}
.node.st-added rect{stroke:#1a9850;stroke-width:3}
.node.st-removed rect{stroke:#d73027;stroke-width:3;stroke-dasharray:5 3;opacity:.6}
.node.st-changed rect{stroke:#fdae61;stroke-width:3}
.node.flagged rect{stroke:#d7191c;stroke-width:4}
.edge{fill:none;stroke:#999;stroke-width:1}
.edge.ctl{stroke-dasharray:3 3}
.edge.long{stroke:#bbb}
.edge.hl{stroke:#d62728;stroke-width:2}
.legend span{display:inline-block;padding:1px 6px;border-radius:3px;margin-right:3px;font-size:11px}
.badge{padding:1px 5px;border-radius:3px;font-size:11px;border:1px solid #888}
.flag{color:#b00;font-weight:600}
.passes{border-collapse:collapse;font-size:11px}.passes td,.passes th{border:1px solid #ddd;padding:1px 5px}
`;

const COLORS: Record<string, string> = { conv: '#4e79a7', bn: '#f28e2b', quant: '#9c5fb5', act: '#59a14f', io: '#edc948', const: '#bab0ac', control: '#e15759', shape: '#76b7b2', math: '#8c8c8c', other: '#d4a6c8' };

/** One self-contained HTML page (scripts and styles inlined; nothing is fetched at view time). */
export function renderHtml(data: ViewData): string {
  const legend = Object.entries(COLORS).map(([k, c]) => `<span style="background:${c}">${k}</span>`).join('');
  const diff = data.counts
    ? `<span class="diff">added <b id="n-added">${data.counts.added}</b> · removed <b id="n-removed">${data.counts.removed}</b> · rewritten <b id="n-changed">${data.counts.changed}</b></span>`
    : '';
  const passes = data.passes?.length
    ? `<table class="passes"><tr><th>pass</th><th>ms</th><th>nodes</th></tr>${data.passes
        .map((p) => `<tr><td>${esc(p.name)}</td><td>${p.ms.toFixed(0)}</td><td>${p.before} → ${p.after}</td></tr>`)
        .join('')}</table>`
    : '';
  const flagged = data.nodes.filter((n) => n.flag).length;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(data.title)} — tfpass view</title><style>${CSS}</style></head>
<body>
<header><h1>${esc(data.title)}</h1>
<span><b id="node-count">${data.nodeCount}</b> nodes (<span id="shown">0</span> boxes shown)</span>
${diff}${flagged ? `<span class="flag">${flagged} flagged</span>` : ''}
<input id="search" placeholder="search name or op, Enter" size="28"><span id="hits"></span>
<button id="expand">expand all</button>
<span class="legend">${legend}</span><span id="timing"></span>${passes}</header>
<svg id="canvas"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#999"/></marker></defs><g id="viewport"></g></svg>
<aside id="details"><p>Click a node for its attributes; click a dashed scope box to expand it.</p></aside>
<script type="application/json" id="tfpass-data">${scriptSafe(JSON.stringify(data))}</script>
<script>${scriptSafe(dagreSource())}</script>
<script>${scriptSafe(asset('page.js.txt'))}</script>
</body></html>
`;
}
