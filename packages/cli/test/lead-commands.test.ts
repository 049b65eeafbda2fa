import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@tfpass/core';
import { buildOnce, tfpass, tmp } from './helpers.js';
import { writeConvGraph } from './graphs.js';

beforeAll(() => buildOnce());

describe('transform --report_html, view, quantize', () => {
  it('transform writes a diff page with per-pass rows', async () => {
    const dir = tmp();
    const g = writeConvGraph(dir);
    const html = join(dir, 'report.html');
    const r = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(dir, 'o.pb')}`, '--inputs=x', '--outputs=out', "--transforms=remove_nodes(op=Identity, op=CheckNumerics)", `--report_html=${html}`]);
    expect(r.status, r.stderr).toBe(0);
    const page = readFileSync(html, 'utf8');
    // CheckNumerics goes; the Identity named in --outputs stays.
    const after = core.readGraph(join(dir, 'o.pb'));
    expect(after.has('check')).toBe(false);
    expect(after.has('out')).toBe(true);
    expect(page).toContain(`<b id="n-removed">${core.readGraph(g).size - after.size}</b>`);
    expect(page).toContain('<b id="n-removed">1</b>');
    expect(page).toContain('<td>remove_nodes</td>');
    expect(page).not.toMatch(/<script[^>]+src=/); // self-contained
  });

  it('view writes one page; --quant flags tensors without a range', async () => {
    const dir = tmp();
    const g = writeConvGraph(dir);
    const r = await tfpass(['view', g, '--out', join(dir, 'g.html'), '--quant', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.nodes).toBe(9);
    expect(out.flagged).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'g.html'), 'utf8')).toContain('<b id="node-count">9</b>');
  });

  it('quantize writes a MetaGraphDef whose collections list every range variable', async () => {
    const dir = tmp();
    const g = writeConvGraph(dir);
    const meta = join(dir, 'train.meta');
    const r = await tfpass(['quantize', `--in_graph=${g}`, `--out_graph=${meta}`, '--quant_delay=5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sites).toBeGreaterThan(0);
    const m = core.readModel(meta);
    expect(m.kind).toBe('meta');
    const mins = m.graph.nodes().filter((n) => /_quant\/min$/.test(n.name) && n.op === 'VariableV2');
    expect(mins.length).toBe(out.sites);
    expect(existsSync(join(dir, 'conv.pb'))).toBe(true);
  });
});
