// tfjs-converter's op lists, imported as the data modules its OperationMapper builds from.
// The version is pinned exactly in package.json, so these paths are stable; `ragged` and `tfdf`
// lists ship too but the 4.22 mapper does not load them, so they are left out here as well.
import { json as arithmetic } from '@tensorflow/tfjs-converter/dist/operations/op_list/arithmetic.js';
import { json as basicMath } from '@tensorflow/tfjs-converter/dist/operations/op_list/basic_math.js';
import { json as control } from '@tensorflow/tfjs-converter/dist/operations/op_list/control.js';
import { json as convolution } from '@tensorflow/tfjs-converter/dist/operations/op_list/convolution.js';
import { json as creation } from '@tensorflow/tfjs-converter/dist/operations/op_list/creation.js';
import { json as dynamic } from '@tensorflow/tfjs-converter/dist/operations/op_list/dynamic.js';
import { json as evaluation } from '@tensorflow/tfjs-converter/dist/operations/op_list/evaluation.js';
import { json as graph } from '@tensorflow/tfjs-converter/dist/operations/op_list/graph.js';
import { json as hashTable } from '@tensorflow/tfjs-converter/dist/operations/op_list/hash_table.js';
import { json as image } from '@tensorflow/tfjs-converter/dist/operations/op_list/image.js';
import { json as logical } from '@tensorflow/tfjs-converter/dist/operations/op_list/logical.js';
import { json as matrices } from '@tensorflow/tfjs-converter/dist/operations/op_list/matrices.js';
import { json as normalization } from '@tensorflow/tfjs-converter/dist/operations/op_list/normalization.js';
import { json as reduction } from '@tensorflow/tfjs-converter/dist/operations/op_list/reduction.js';
import { json as sliceJoin } from '@tensorflow/tfjs-converter/dist/operations/op_list/slice_join.js';
import { json as sparse } from '@tensorflow/tfjs-converter/dist/operations/op_list/sparse.js';
import { json as spectral } from '@tensorflow/tfjs-converter/dist/operations/op_list/spectral.js';
import { json as string } from '@tensorflow/tfjs-converter/dist/operations/op_list/string.js';
import { json as transformation } from '@tensorflow/tfjs-converter/dist/operations/op_list/transformation.js';

const LISTS = [
  arithmetic, basicMath, control, convolution, creation, dynamic, evaluation, graph, hashTable, image,
  logical, matrices, normalization, reduction, sliceJoin, sparse, spectral, string, transformation,
];

let builtin: Set<string> | undefined;

/** Ops tfjs-converter maps natively (its OperationMapper's op lists). */
export function tfjsOps(): Set<string> {
  return (builtin ??= new Set(LISTS.flatMap((l) => l.map((m) => m.tfOpName))));
}
