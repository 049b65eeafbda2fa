// Types only: nothing of @tfpass/quantize loads until a command needs it.
import type { Finding } from '@tfpass/quantize';
import { needModule } from './optional.js';

export type { Finding };

/** What the CLI uses from @tfpass/quantize (an optional install), with its own types. */
export type QuantizeApi = Pick<typeof import('@tfpass/quantize'), 'loadTarget' | 'quantCheck' | 'lint' | 'LINT_RULES'>;

export function loadQuantize<const K extends keyof QuantizeApi>(command: string, names: readonly K[]): Promise<Pick<QuantizeApi, K>> {
  return needModule('@tfpass/quantize', names, command);
}

export function printFindings(print: (s: string) => void, findings: Finding[]): void {
  for (const f of findings) {
    const where = f.tensor ? ` ${f.tensor}${f.op ? ` (${f.op})` : ''}${f.consumer ? ` -> ${f.consumer}${f.consumerOp ? ` (${f.consumerOp})` : ''}` : ''}:` : f.node ? ` ${f.node}:` : '';
    print(`${f.severity === 'error' ? 'error  ' : 'warning'} [${f.rule}]${where} ${f.message}`);
  }
}
