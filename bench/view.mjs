// tfpass view: time to lay out and draw the large real graphs in headless Chromium
// (target: within 5 s), first with scopes folded (what the page shows on open), then fully expanded
// ("expand all"). Each figure is wall time from the action until the page has drawn.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { readGraph } from '../packages/core/dist/index.js';
import { graphHtml } from '../packages/view/dist/index.js';

const models = process.env.TFPASS_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const exe = process.env.TFPASS_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(exe)) {
  console.log(`\n## view\n| skipped | ${exe} not found |`);
  process.exit(0);
}
const browser = await chromium.launch({ executablePath: exe, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
const dir = mkdtempSync(join(tmpdir(), 'tfpass-view-bench-'));
const rows = [];
for (const rel of ['deepmd-deeppot-pbtxt/deeppot.pbtxt', 'tf-stylize-quantized/stylize_quantized.pb']) {
  const p = join(models, rel);
  if (!existsSync(p)) continue;
  const g = readGraph(p);
  const file = join(dir, rel.split('/')[0] + '.html');
  writeFileSync(file, graphHtml(g, { title: rel }));
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const t0 = Date.now();
  await page.goto('file://' + file);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  const open = Date.now() - t0;
  const first = await page.evaluate(() => window.__tfpassLayout);
  const t1 = Date.now();
  await page.click('#expand');
  await page.waitForFunction(() => document.querySelectorAll('g.node.scope').length === 0, null, { timeout: 120_000 });
  const full = Date.now() - t1;
  const boxes = await page.locator('g.node').count();
  const all = await page.evaluate(() => window.__tfpassLayout);
  if (process.env.TFPASS_VIEW_SHOTS) await page.screenshot({ path: join(process.env.TFPASS_VIEW_SHOTS, rel.split('/')[0] + '.png') });
  const within = (ms) => (ms <= 5000 ? '<= 5 s' : '> 5 s');
  rows.push([
    `${rel.split('/')[0]} (${g.size} nodes)`,
    `open (${first.units} boxes) ${open} ms ${within(open)}`,
    `expand all (${boxes} boxes) ${full} ms ${within(full)}`,
    `expanded: ${all.edges} edges, ${all.long} drawn outside dagre`,
  ]);
  await page.close();
}
await browser.close();
console.log('\n## view');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
