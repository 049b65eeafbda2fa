import type { Graph, Node } from '../graph.js';
import { matchAt, parsePattern, type Match, type MatchOptions, type OpPattern } from '../pattern.js';
import { Builder } from './builder.js';

/** Why a rule refused a match: a note by default, a warning when the user should act. */
export type Refusal = string | { warn: string };

/** What a rule's hooks receive. */
export interface RuleContext {
  graph: Graph;
  /** Protected names (pipeline inputs/outputs). */
  keep: ReadonlySet<string>;
}

/**
 * One rewrite rule: `pattern` (or `match`) finds a candidate rooted at a node, `check` may
 * refuse it with a reason, `rewrite` edits the graph through the builder. In the style of
 * onnxscript's rewriter rules and MLIR's `Pat<>`: the three parts read as the rule itself.
 */
export interface Rule<M = Match> {
  name: string;
  /** Root ops worth trying (a cheap filter before matching). */
  ops?: readonly string[];
  /** `Mul(Conv2D!(*, Const), Const)`; the match is handed to `match`/`check`/`rewrite`. */
  pattern?: string | OpPattern;
  /** Options for `pattern` (commutative ops, Const through Identity). */
  matchOptions?: MatchOptions;
  /** Build the rule's own match object (from the pattern's match, when there is a pattern). */
  match?(node: Node, cx: RuleContext, m: Match | undefined): M | undefined;
  /** A reason to leave this match alone, or undefined to go ahead. */
  check?(m: M, cx: RuleContext): Refusal | undefined;
  /** Rewrite; return false to say nothing changed after all. */
  rewrite(m: M, b: Builder, cx: RuleContext): boolean | void;
}

export interface Reporter {
  note(msg: string): void;
  warn(msg: string): void;
  count(key: string, by?: number): void;
}

export interface DriverOptions {
  keep?: ReadonlySet<string>;
  /** Where refusals and the counts of rules that applied go (a PassContext fits). */
  report?: Reporter;
  /** Report name for each rule's count (default: the rule's name). */
  counters?: Record<string, string>;
  /** Sweeps before giving up on reaching a fixed point (MLIR's maxIterations). */
  maxSweeps?: number;
}

export interface DriverResult {
  /** True when some rule changed the graph (onnx-ir's PassResult.modified). */
  modified: boolean;
  /** Rewrites applied, by rule name. */
  applied: Record<string, number>;
  sweeps: number;
  /** False when maxSweeps ran out before a fixed point. */
  converged: boolean;
}

/**
 * Apply rules greedily until none applies (a fixed point), in graph order, first rule first:
 * the shape of MLIR's applyPatternsAndFoldGreedily. A refused (rule, node) pair is reported once
 * and not tried again, so a refusal never repeats across sweeps. A node a rewrite removed is
 * skipped; nodes it created are seen in the next sweep.
 */
export function applyRules(g: Graph, rules: readonly Rule<any>[], opts: DriverOptions = {}): DriverResult {
  const cx: RuleContext = { graph: g, keep: opts.keep ?? new Set() };
  const compiled = rules.map((r) => ({ r, p: typeof r.pattern === 'string' ? parsePattern(r.pattern) : r.pattern, ops: r.ops && new Set(r.ops) }));
  // Refused nodes, per rule (by position): never tried again by that rule.
  const refused = compiled.map(() => new Set<Node>());
  const applied: Record<string, number> = {};
  const maxSweeps = opts.maxSweeps ?? 32;
  let modified = false;
  let sweeps = 0;
  let changed = true;
  while (changed && sweeps < maxSweeps) {
    changed = false;
    sweeps++;
    for (const node of g.nodes()) {
      for (let k = 0; k < compiled.length; k++) {
        const { r, p, ops } = compiled[k]!;
        if (g.get(node.name) !== node) break;
        if ((ops && !ops.has(node.op)) || refused[k]!.has(node)) continue;
        const pm = p ? matchAt(g, node, p, { keep: cx.keep, ...r.matchOptions }) : undefined;
        if (p && !pm) continue;
        const m = r.match ? r.match(node, cx, pm) : pm;
        if (m === undefined) continue;
        const why = r.check?.(m, cx);
        if (why !== undefined) {
          refused[k]!.add(node);
          if (typeof why === 'string') opts.report?.note(`${node.name}: ${why}`);
          else opts.report?.warn(`${node.name}: ${why.warn}`);
          continue;
        }
        const b = new Builder(g, node.name, node.device);
        if (r.rewrite(m, b, cx) === false) continue;
        applied[r.name] = (applied[r.name] ?? 0) + 1;
        changed = modified = true;
      }
    }
  }
  if (opts.report) for (const [name, n] of Object.entries(applied)) opts.report.count(opts.counters?.[name] ?? name, n);
  return { modified, applied, sweeps, converged: !changed };
}
