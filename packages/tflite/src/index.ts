export type * from "./model.js";
export { readTflite, isTflite, builtinName, TENSOR_TYPES, FILE_IDENTIFIER, type ReadOptions } from "./read.js";
export { writeTflite } from "./write.js";
