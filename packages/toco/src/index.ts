export type * from "./lowered.js";
export * from "./quantize.js";
export * from "./quantize-params.js";
export { lowerGraph, lowerToOps, type LowerOptions } from "./lower.js";
export { convertGraph, type ConvertOptions } from "./convert.js";
