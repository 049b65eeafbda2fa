import type { Graph } from '@tfpass/core';
// Types only: nothing of @tfpass/quantize loads until a command needs it.
import type { Finding } from '@tfpass/quantize';
import { needModule } from './optional.js';

export type { Finding };

/** What the CLI uses from @tfpass/quantize (an optional install). */
export interface QuantizeApi {
  loadTarget(nameOrFile?: string): unknown;
  quantCheck(g: Graph, target?: unknown, opts?: { inputs?: string[]; outputs?: string[] }): Finding[];
  lint(g: Graph, opts?: { target?: unknown; disable?: string[]; inputs?: string[]; outputs?: string[] }): Finding[];
  LINT_RULES: Record<string, string>;
}

export function loadQuantize(command: string, names: (keyof QuantizeApi | string)[]): Promise<QuantizeApi> {
  return needModule<QuantizeApi>('@tfpass/quantize', names as string[], command);
}

export function printFindings(print: (s: string) => void, findings: Finding[]): void {
  for (const f of findings) {
    const where = f.tensor ? ` ${f.tensor}${f.op ? ` (${f.op})` : ''}${f.consumer ? ` -> ${f.consumer}${f.consumerOp ? ` (${f.consumerOp})` : ''}` : ''}:` : f.node ? ` ${f.node}:` : '';
    print(`${f.severity === 'error' ? 'error  ' : 'warning'} [${f.rule}]${where} ${f.message}`);
  }
}
