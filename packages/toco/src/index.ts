export type * from "./lowered.js";
export * from "./quantize.js";
export * from "./quantize-params.js";
