import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Graph, Tensor, readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { diffHtml, graphHtml } from '../src/index.js';

const CHROMIUM = process.env.TFPASS_CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = !existsSync(CHROMIUM);
if (noBrowser) {
  if (process.env.CI && !process.env.TFPASS_NO_BROWSER) throw new Error(`${CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium`);
  console.warn(`[tfpass view] browser tests skipped: ${CHROMIUM} not found (install Debian's chromium package)`);
}
const artifacts = resolve(__dirname, '../../../test-artifacts');
const tmp = mkdtempSync(join(tmpdir(), 'tfpass-view-'));

let browser: Browser;

async function open(html: string, file: string): Promise<{ page: Page; errors: string[] }> {
  const path = join(tmp, file);
  writeFileSync(path, html);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  // Any request leaving the page would mean the file is not self-contained.
  page.on('request', (r) => { if (!r.url().startsWith('file:')) errors.push(`network request ${r.url()}`); });
  await page.goto('file://' + path);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  return { page, errors };
}

function smallGraph(): Graph {
  const g = new Graph();
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 8, 8, 3] } } });
  g.addNode({ name: 'conv/weights', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [1, 1, 3, 4], Array.from({ length: 12 }, (_, i) => i / 10)) } } });
  g.addNode({ name: 'conv/Conv2D', op: 'Conv2D', inputs: ['input', 'conv/weights'], attrs: { T: { type: 'float32' }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } } });
  g.addNode({ name: 'conv/Identity', op: 'Identity', inputs: ['conv/Conv2D'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'out', op: 'Relu', inputs: ['conv/Identity'], attrs: { T: { type: 'float32' } } });
  return g;
}

describe.skipIf(noBrowser)('tfpass view in headless Chromium', () => {
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('draws a graph, shows attrs on click and finds nodes by search', async () => {
    const g = smallGraph();
    const { page, errors } = await open(graphHtml(g, { title: 'small' }), 'small.html');
    expect(await page.textContent('#node-count')).toBe(String(g.size));
    // The Const is drawn inside its conv: 4 boxes for 5 nodes.
    expect(await page.locator('g.node').count()).toBe(4);
    await page.locator('g.node[data-unit="conv/Conv2D"]').click();
    const details = await page.textContent('#details');
    expect(details).toContain('padding');
    expect(details).toContain('"SAME"');
    expect(details).toContain('conv/weights');
    expect(details).toContain('[1,1,3,4] float32');
    await page.fill('#search', 'identity');
    await page.press('#search', 'Enter');
    expect(await page.textContent('#hits')).toBe('1 match');
    expect(await page.textContent('#details h2')).toBe('conv/Identity');
    await page.screenshot({ path: join(artifacts, 'view-small.png') });
    expect(errors).toEqual([]);
  });

  it('diff view counts removed and rewritten nodes and highlights flagged ones', async () => {
    const before = smallGraph();
    const after = smallGraph();
    after.replaceUses('conv/Identity', 'conv/Conv2D');
    after.removeNode('conv/Identity');
    const flags = new Map([['conv/Conv2D', 'no quantization range for conv/Conv2D:0 (read by Relu)']]);
    const { page, errors } = await open(diffHtml(before, after, { title: 'diff', flags, passes: [{ name: 'remove_nodes', ms: 1, before: 5, after: 4, notes: [] }] }), 'diff.html');
    expect(await page.textContent('#n-removed')).toBe('1');
    expect(await page.textContent('#n-changed')).toBe('1');
    expect(await page.locator('g.node.st-removed').count()).toBe(1);
    expect(await page.locator('g.node.flagged').count()).toBe(1);
    expect(await page.textContent('header')).toContain('remove_nodes');
    await page.screenshot({ path: join(artifacts, 'view-diff.png') });
    expect(errors).toEqual([]);
  });

  for (const [rel, label] of [['deepmd-deeppot-pbtxt/deeppot.pbtxt', 'deepmd'], ['tf-stylize-quantized/stylize_quantized.pb', 'stylize']] as const) {
    it(`lays out the ${label} graph (collapsed scopes, then fully expanded)`, { timeout: 300_000 }, async () => {
      const p = modelPath(rel);
      if (!p) return;
      const g = readGraph(p);
      const { page, errors } = await open(graphHtml(g, { title: label }), `${label}.html`);
      expect(await page.textContent('#node-count')).toBe(String(g.size));
      const first = await page.evaluate(() => (window as unknown as { __tfpassReadyMs: number }).__tfpassReadyMs);
      const t0 = Date.now();
      // The handler lays out synchronously; evaluate waits for it without an actionability timeout.
      await page.evaluate(() => (document.getElementById('expand') as HTMLButtonElement).click());
      expect(await page.locator('g.node.scope').count()).toBe(0);
      const expanded = Date.now() - t0;
      const boxes = await page.locator('g.node').count();
      console.log(`[view] ${label}: ${g.size} nodes, first draw ${first.toFixed(0)} ms, fully expanded (${boxes} boxes) ${expanded} ms`);
      expect(boxes).toBeGreaterThan(100);
      // Every edge is drawn, the ones spanning many ranks outside dagre (that keeps this fast).
      const layout = await page.evaluate(() => (window as unknown as { __tfpassLayout: { edges: number; long: number } }).__tfpassLayout);
      expect(layout.long).toBeGreaterThan(0);
      expect(await page.locator('path.edge').count()).toBe(layout.edges);
      // Clicking a box of the expanded graph still shows that node and highlights its edges,
      // long ones included.
      const unit = (await page.locator('path.edge.long').first().getAttribute('data-w'))!;
      await page.evaluate((u) => document.querySelector(`g.node[data-unit="${CSS.escape(u)}"]`)!.dispatchEvent(new MouseEvent('click', { bubbles: true })), unit);
      expect(await page.textContent('#details h2')).toBe(unit);
      expect(await page.locator(`path.edge.long.hl[data-w="${unit}"]`).count()).toBeGreaterThan(0);
      await page.screenshot({ path: join(artifacts, `view-${label}.png`) });
      expect(errors).toEqual([]);
    });
  }
});
