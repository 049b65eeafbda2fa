// A complete third-party tfpass plugin. It imports only TYPES from @tfpass/core: every
// runtime helper comes from the `api` the host hands to register(), so the plugin works
// with whatever copy of core the installed `tfpass` uses.
import type { Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';
import { removeNeutralOps } from './neutral.js';
import { mulToSquare } from './square.js';

export interface RenamePrefixParams {
  from: string;
  to: string;
  /** Leave these nodes (and only these) under their old names. */
  keep: string[];
}

/** The plugin's passes, built on the host's library (tests hand in core's module). */
export function makePasses(lib: PluginApi['lib']): PassDefinition[] {
  const renamePrefix: PassDefinition<RenamePrefixParams> = {
    name: 'rename_prefix',
    summary: 'Move every node under one name scope to another (e.g. model/ -> net/), rewriting inputs',
    description:
      'Renames each node whose name starts with `from` so that it starts with `to` instead, and rewrites every ' +
      'input (data and control) that refers to a renamed node. Nodes named in --inputs/--outputs keep their names ' +
      'unless the prefix covers them too, so check your --outputs after running it. Fails, changing nothing, when a ' +
      'new name is already taken.',
    params: {
      from: { type: 'string', required: true, description: 'name prefix to replace (usually a scope ending in /)' },
      to: { type: 'string', default: '', description: 'replacement prefix (empty: drop the prefix)' },
      keep: { type: 'string', repeated: true, description: 'node names to leave as they are' },
    },
    example: 'rename_prefix(from=MobilenetV1/, to=net/)',
    run(graph: Graph, ctx: PassContext<RenamePrefixParams>) {
      const { from, to, keep } = ctx.params;
      if (from === '') throw new lib.ParamError('rename_prefix', 'from', 'must not be empty');
      const kept = new Set(keep);
      const renames = new Map<string, string>();
      for (const n of graph.nodes()) {
        if (n.name.startsWith(from) && !kept.has(n.name)) renames.set(n.name, to + n.name.slice(from.length));
      }
      for (const [old, name] of renames) {
        if (!/^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$/.test(name)) {
          throw new lib.PassError('rename_prefix', `renaming '${old}' gives '${name}', which is not a valid node name`);
        }
        if (graph.has(name) && !renames.has(name)) {
          throw new lib.PassError('rename_prefix', `renaming '${old}' to '${name}' clashes with an existing node`);
        }
      }
      graph.renameNodes(renames);
      ctx.count('renamed', renames.size);
      if (!renames.size) ctx.warn(`no node name starts with '${from}'`);
    },
  };
  return [renamePrefix as PassDefinition, removeNeutralOps(lib), mulToSquare(lib)];
}

export function register(api: PluginApi): void {
  for (const def of makePasses(api.lib)) api.registerPass(def);
}
