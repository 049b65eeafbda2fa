import { readFileSync } from 'node:fs';
import { FileError, GraphValidationError, ParamError, Tensor, TfpassError, type Graph } from '@tfpass/core';

export interface RequantRecord {
  name: string;
  min: number;
  max: number;
}

const TAG = '__requant_min_max:';

/**
 * Lines like `…] ;conv/eightbit/requant_range__print__;__requant_min_max:[-20.8][22.2]`
 * (what insert_logging prints), in file order; malformed lines are skipped.
 */
export function parseRequantLog(text: string): RequantRecord[] {
  const out: RequantRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(`__print__;${TAG}`)) continue;
    const fields = line.split(';');
    let k = -1;
    for (let i = fields.length - 1; i >= 1; i--) if (fields[i]!.startsWith(TAG)) { k = i; break; }
    if (k < 1) continue;
    const parts = fields[k]!.split('[');
    if (parts.length !== 3 || parts[0] !== TAG) continue;
    const a = parts[1]!.split(']');
    const b = parts[2]!.split(']');
    if (a.length !== 2 || b.length !== 2) continue;
    const min = Number(a[0]);
    const max = Number(b[0]);
    if (a[0]!.trim() === '' || b[0]!.trim() === '' || Number.isNaN(min) || Number.isNaN(max)) continue;
    const prev = fields[k - 1]!;
    if (!prev.endsWith('__print__')) continue;
    out.push({ name: prev.slice(0, -'__print__'.length), min, max });
  }
  return out;
}

/**
 * GTT's freeze_requantization_ranges: each logged RequantizationRange becomes two Consts
 * (`<n>/frozen_min`, `<n>/frozen_max`) chosen by percentile over the logged runs.
 */
export function freezeRequantizationRanges(g: Graph, records: RequantRecord[], minPercentile = 5, maxPercentile = 5): number {
  if (records.length === 0) throw new TfpassError('E_USAGE', 'No min/max range logs were found in the log file');
  const by = new Map<string, RequantRecord[]>();
  for (const r of records) by.set(r.name, [...(by.get(r.name) ?? []), r]);
  const absent = [...by.keys()].filter((n) => !g.has(n));
  if (absent.length) throw new GraphValidationError(absent[0], `Nodes were found in the log file that aren't present in the graph (${absent.length}: ${absent.slice(0, 3).join(', ')})`);
  for (const [name, rs] of by) {
    const n = g.node(name);
    if (n.op !== 'RequantizationRange') throw new GraphValidationError(name, `Node is expected to be a RequantizationRange op, found ${n.op}`);
    const mins = rs.map((r) => r.min).sort((a, b) => a - b);
    const maxs = rs.map((r) => r.max).sort((a, b) => a - b);
    const cnt = rs.length;
    const mi = Math.max(0, Math.round(cnt * (minPercentile / 100)));
    const ma = Math.min(cnt - 1, Math.round(cnt * (1 - maxPercentile / 100)));
    const k = (v: number, suffix: string) => {
      g.addNode({ name: `${name}/${suffix}`, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [v]) } } });
      return `${name}/${suffix}`;
    };
    const lo = k(mins[Math.min(mi, cnt - 1)]!, 'frozen_min');
    const hi = k(maxs[Math.max(ma, 0)]!, 'frozen_max');
    g.replaceUses(name, lo);
    g.replaceUses(`${name}:1`, hi);
    g.removeNode(name);
  }
  return by.size;
}

export function freezeRequantizationRangesFromFile(g: Graph, file: string, minPercentile = 5, maxPercentile = 5): number {
  if (!file) throw new ParamError('freeze_requantization_ranges', 'min_max_log_file', 'You must pass a file name to min_max_log_file');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  return freezeRequantizationRanges(g, parseRequantLog(text), minPercentile, maxPercentile);
}
