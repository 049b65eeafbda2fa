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
    // contrib names a second site in the same scope `weights_quant_1`, as TF uniquifies names.
    const mins = m.graph.nodes().filter((n) => /_quant(_\d+)?\/min$/.test(n.name) && n.op === 'VariableV2');
    expect(mins.length).toBe(out.sites);
    expect(existsSync(join(dir, 'conv.pb'))).toBe(true);
  });

  it('calibrate --bias_correction stores per-channel bias shifts that insert_fake_quant can apply', async () => {
    const dir = tmp();
    const g = join(dir, 'net.pb');
    const net = new core.Graph();
    const f32 = { type: 'float32' as const };
    net.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 6, 6, 3] } } });
    net.addNode({ name: 'w', op: 'Const', attrs: { dtype: f32, value: { tensor: core.Tensor.fromValues('float32', [3, 3, 3, 4], Array.from({ length: 108 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 4)))) } } });
    net.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
    net.addNode({ name: 'b', op: 'Const', attrs: { dtype: f32, value: { tensor: core.Tensor.fromValues('float32', [4], [0.1, -0.2, 0.3, 0]) } } });
    net.addNode({ name: 'bias', op: 'BiasAdd', inputs: ['conv', 'b'], attrs: { T: f32, data_format: { s: 'NHWC' } } });
    net.addNode({ name: 'relu', op: 'Relu', inputs: ['bias'], attrs: { T: f32 } });
    core.writeGraph(net, g);
    const ranges = join(dir, 'r.json');
    const r = await tfpass(['calibrate', g, '--input', 'x=1,6,6,3', '--out', ranges, '--bias_correction', '--weight_bits', '4', '--batches', '4']);
    expect(r.status, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(ranges, 'utf8'));
    expect(file.biasCorrection.weightBits).toBe(4);
    expect(file.biasCorrection.shifts.b).toHaveLength(4);
    const t = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(dir, 'q.pb')}`, '--inputs=x', '--outputs=relu', `--transforms=insert_fake_quant(ranges=${ranges}, weight_bits=4, bias_correction=true)`]);
    expect(t.status, t.stderr).toBe(0);
    const q = core.readGraph(join(dir, 'q.pb'));
    const nb = q.node('b').attrs.getTensor('value').toNumbers();
    nb.forEach((v, i) => expect(v).toBeCloseTo([0.1, -0.2, 0.3, 0][i]! - file.biasCorrection.shifts.b[i], 5));
  });
});
