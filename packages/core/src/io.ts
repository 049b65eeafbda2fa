/**
 * Reading and writing graphs; the parts live in io/ (format detection, text-error locations,
 * read, write). This file keeps the one import path and the exact public surface.
 */
export { scanTopLevel, formatFromPath, type ContainerKind, type TextOrBinary } from './io/detect.js';
export { readModel, readGraph, type Model, type ReadOptions } from './io/read.js';
export { encodeGraph, encodeModel, writeGraph, writeModel, type WriteOptions } from './io/write.js';
