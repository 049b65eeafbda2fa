/**
 * The one way qat and calibrate read image folders, TFRecords and .npy through @tfpass/data
 * (the flags `tfpass eval` takes): which --data needs it, the layout from the placeholder's
 * shape and --mean/--std, and the open.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Graph } from '@tfpass/core';
import type { Dataset } from '@tfpass/data';
import { UsageError } from '@tfpass/core/errors';
import { splitList, type CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { expandGlob } from '../feeds.js';
import { needModule } from '../optional.js';

export const DATASET_FLAGS: CommandSpec['flags'] = {
  masks: { type: 'string', value: 'DIR', description: "PNG label maps with the images' base names (segmentation)" },
  mean: { type: 'string', value: 'M[,M..]', description: "image input = (pixel - mean) / std, per channel (TOCO's --mean_values; default 0)", alias: ['mean_values'] },
  std: { type: 'string', value: 'S[,S..]', description: "TOCO's --std_values (default 1)", alias: ['std_dev_values', 'std_values'] },
  feature: { type: 'string', value: 'NAME=input', description: 'TFRecord float feature read into the input instead of an image' },
  label_feature: { type: 'string', value: 'NAME', description: 'TFRecord label feature (default image/class/label)' },
};

const STREAM_EXT = /\.(png|jpe?g|tfrecords?|record|rec)$/i;

/** Folders, images and TFRecords (or any of the dataset flags) go through @tfpass/data. */
export function wantsDataset(ctx: Ctx, globs: string[], extraFlags: string[] = []): boolean {
  const isDir = (p: string) => {
    const f = resolve(ctx.cwd, p);
    return existsSync(f) && statSync(f).isDirectory();
  };
  if (globs.some((g) => isDir(g) || STREAM_EXT.test(g))) return true;
  const l = ctx.str('labels');
  if (l && /\.(csv|json)$/i.test(extname(l))) return true;
  return [...Object.keys(DATASET_FLAGS).filter((f) => f !== 'label_feature'), ...extraFlags].some((f) => ctx.flags[f] !== undefined);
}

function nums(ctx: Ctx, flag: string): number[] | undefined {
  const s = ctx.str(flag);
  if (s === undefined) return undefined;
  const v = splitList(s).map(Number);
  if (v.some((x) => !Number.isFinite(x))) throw new UsageError(`--${flag} takes numbers, got '${s}'`);
  if (flag === 'std' && v.some((x) => x === 0)) throw new UsageError('--std must not be 0');
  return v;
}

export interface DatasetOpener {
  module: typeof import('@tfpass/data');
  open(globs: string[]): Dataset;
}

/** The shape of placeholder `input`, which images are decoded into. */
export function inputShapeOf(graph: Graph, input: string): number[] {
  const shape = graph.get(input)?.attrs.optShape('shape');
  if (!shape) throw new UsageError(`--data: input ${input} has no shape in the graph (needed to decode images into it)`);
  return [...shape];
}

/** An opener for a model input of `shape` (a graph's placeholder or a .tflite input). */
export async function datasetOpener(ctx: Ctx, shape: readonly number[], command: string): Promise<DatasetOpener> {
  const data = await needModule<typeof import('@tfpass/data')>('@tfpass/data', ['openDataset', 'layoutFor', 'createMetric'], command);
  const { decodeNpy } = await needModule<Pick<typeof import('@tfpass/runtime'), 'decodeNpy'>>('@tfpass/runtime', ['decodeNpy'], command);
  const layout = data.layoutFor([...shape], { mean: nums(ctx, 'mean'), std: nums(ctx, 'std') });
  const paths = (globs: string[]) =>
    globs.flatMap((p) => {
      const hit = /[*?[]/.test(p) ? expandGlob(p, ctx.cwd) : [resolve(ctx.cwd, p)];
      if (!hit.length || !hit.every((f) => existsSync(f))) throw new UsageError(`--data ${p}: no file matches`);
      return hit;
    });
  return {
    module: data,
    open: (globs) =>
      data.openDataset(paths(globs), layout, {
        labelsFile: ctx.str('labels'), masksDir: ctx.str('masks'), rawFeature: ctx.str('feature'), labelFeature: ctx.str('label_feature'), decodeNpy,
      }),
  };
}
