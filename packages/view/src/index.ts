import type { Graph } from '@tfpass/core';
import { buildDiffView, buildView, type BuildOptions, type ViewData } from './model.js';
import { renderHtml } from './html.js';

export * from './model.js';
export { renderHtml } from './html.js';

/** HTML page for one graph. */
export function graphHtml(graph: Graph, opts: BuildOptions = {}): string {
  return renderHtml(buildView(graph, opts));
}

/** HTML page showing what a pipeline did: BEFORE vs AFTER, with per-pass rows. */
export function diffHtml(before: Graph, after: Graph, opts: BuildOptions & { passes?: ViewData['passes'] } = {}): string {
  return renderHtml(buildDiffView(before, after, opts));
}
