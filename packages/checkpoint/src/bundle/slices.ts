/** Partitioned tensors: slice extents (to and from TensorSliceProto) and N-d copies between a tensor and its slices. */
import { Tensor, allocate, numElements } from '@tfpass/core';
import { TensorSliceProtoSchema, create, type TensorSliceProto } from '@tfpass/core/proto';
import type { Extent } from '../slice-key.js';

export function extentsFromProto(p: TensorSliceProto, rank: number): Extent[] {
  const out: Extent[] = [];
  for (let i = 0; i < rank; i++) {
    const e = p.extent[i];
    if (!e || e.hasLength.case !== 'length') out.push({ start: 0, length: -1 });
    else out.push({ start: Number(e.start), length: Number(e.hasLength.value) });
  }
  return out;
}

export function sliceKeyId(name: string, extents: Extent[]): string {
  return `${name}\u0000${extents.map((e) => `${e.start},${e.length}`).join(':')}`;
}

export function formatExtents(ex: Extent[]): string {
  return ex.map((e) => (e.length < 0 ? '-' : `${e.start},${e.length}`)).join(':');
}

/**
 * Walk the region of `shape` that `extents` select, in row-major order: `visit(k, off, width)`
 * gets the region-local element index and the element's offset in the full tensor.
 */
function walkSlice(shape: number[], extents: Extent[], width: number, visit: (k: number, off: number) => void): number[] {
  const rank = shape.length;
  const starts = extents.map((e) => (e.length < 0 ? 0 : e.start));
  const lens = extents.map((e, i) => (e.length < 0 ? shape[i]! : e.length));
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const total = numElements(lens);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < total; k++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (starts[d]! + idx[d]!) * strides[d]!;
    for (let c = 0; c < width; c++) visit(k * width + c, off * width + c);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < lens[d]!) break;
      idx[d] = 0;
    }
  }
  return lens;
}

function complexWidth(t: Tensor): number {
  return t.dtype === 'complex64' || t.dtype === 'complex128' ? 2 : 1;
}

/** Copy `part` into `full` at the given extents (generic N-d strided copy). */
export function copySlice(full: Tensor, extents: Extent[], part: Tensor): void {
  const src = part.data as unknown as { [i: number]: unknown };
  const dst = full.data as unknown as { [i: number]: unknown };
  walkSlice(full.shape, extents, complexWidth(full), (k, off) => {
    dst[off] = src[k];
  });
}

/** Cut the extents' region out of a full tensor (used to write partitioned tensors). */
export function sliceTensor(full: Tensor, extents: Extent[]): Tensor {
  const lens = extents.map((e, i) => (e.length < 0 ? full.shape[i]! : e.length));
  const total = numElements(lens);
  const out = full.dtype === 'string' ? Tensor.zeros('string', lens) : new Tensor(full.dtype, lens, allocate(full.dtype, total));
  const src = full.data as unknown as { [i: number]: unknown };
  const dst = out.data as unknown as { [i: number]: unknown };
  walkSlice(full.shape, extents, complexWidth(full), (k, off) => {
    dst[k] = src[off];
  });
  return out;
}

export function extentsToProto(ex: Extent[]): TensorSliceProto {
  return create(TensorSliceProtoSchema, {
    extent: ex.map((e) => (e.length < 0 ? {} : { start: BigInt(e.start), hasLength: { case: 'length' as const, value: BigInt(e.length) } })),
  });
}
