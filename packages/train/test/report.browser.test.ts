/**
 * The qat run's plots page in headless Chromium (as packages/view's browser tests: skipped with
 * a reason when /usr/bin/chromium is absent; CI installs it): self-contained, every chart drawn,
 * the loss on a linear axis (a distillation loss of 0 before quant_delay is no flat 1e-12 line).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { movingAverage, trainingReportHtml, type QatResult } from '../src/index.js';

const CHROMIUM = process.env.TFPASS_CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = !existsSync(CHROMIUM);
if (noBrowser) {
  if (process.env.CI && !process.env.TFPASS_NO_BROWSER) throw new Error(`${CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium`);
  console.warn(`[tfpass train] browser tests skipped: ${CHROMIUM} not found (install Debian's chromium package)`);
}
const artifacts = resolve(__dirname, '../../../test-artifacts');

/** A run of 100 steps: loss exactly 0 until quant_delay 30 (distillation), then decaying. */
function run(): Pick<QatResult, 'history' | 'evals' | 'rangeTrack' | 'rangeNames'> {
  const history = Array.from({ length: 100 }, (_, i) => ({ step: i + 1, loss: i + 1 < 30 ? 0 : 0.5 * Math.exp(-(i - 29) / 20) + 0.01 * ((i * 7) % 3), quantized: i + 1 >= 30, ms: 10 }));
  const evals = [{ step: 0, float: 0.8 }, ...[25, 50, 75, 100].map((s) => ({ step: s, float: 0.8, quantized: 0.7 + s / 1000 }))];
  const rangeTrack = history.filter((h) => h.step % 5 === 0).map((h) => ({ step: h.step, ranges: [[-1 - h.step / 100, 1 + h.step / 50], [0, 6 - h.step / 100]] as [number, number][] }));
  return { history, evals, rangeTrack, rangeNames: ['conv/weights_quant', 'conv/act_quant'] };
}

describe('movingAverage', () => {
  it('averages the trailing k values (fewer at the start)', () => {
    expect(movingAverage([2, 4, 6, 8], 2)).toEqual([2, 3, 5, 7]);
  });
});

describe.skipIf(noBrowser)('qat plots in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('draws loss, validation metric and each site range track, with no request leaving the page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-plots-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, trainingReportHtml(run(), { title: 'plots', metric: 'top1', quantDelay: 30 }));
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) errors.push(`network request ${r.url()}`); });
    await page.goto('file://' + file);
    // loss + metric + 2 range charts.
    expect(await page.locator('svg').count()).toBe(4);
    const loss = page.locator('svg').first();
    expect(await loss.textContent()).toContain('quant_delay');
    // Linear axis: the raw loss path spans most of the plot height (0 at the bottom, 0.5 at the top).
    const box = await loss.locator('path').first().boundingBox();
    expect(box!.height).toBeGreaterThan(180);
    const metric = page.locator('svg').nth(1);
    expect(await metric.textContent()).toContain('top1 quantized');
    expect(await metric.locator('path').count()).toBe(2);
    expect(await page.locator('svg').nth(3).textContent()).toContain('conv/act_quant');
    await page.screenshot({ path: join(artifacts, 'qat-plots.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
