/**
 * TensorFlow V2 checkpoints ("tensor bundles"): `<prefix>.index` (a table of BundleEntryProto
 * keyed by tensor name, BundleHeaderProto under the empty key) and `<prefix>.data-NNNNN-of-MMMMM`
 * (raw tensor bytes, appended in the order tensors were added).
 */
// The parts live in bundle/ (tensor bytes, slices, read, write, resolve); this file keeps the
// one import path and the exact public surface.
export { dataFileName, indexFileName } from './names.js';
export type { Extent } from './slice-key.js';
export { encodeTensorBytes } from './bundle/tensor-bytes.js';
export { formatExtents, sliceTensor } from './bundle/slices.js';
export { readCheckpoint, type Checkpoint, type CheckpointEntry, type CheckpointHeader } from './bundle/read.js';
export { writeCheckpoint, copyCheckpoint, type SlicedTensor, type WriteCheckpointOptions, type WrittenCheckpoint } from './bundle/write.js';
export { resolveCheckpoint } from './bundle/resolve.js';
