export type * from "./model.js";
export { readTflite, isTflite, builtinName, TENSOR_TYPES, FILE_IDENTIFIER, type ReadOptions } from "./read.js";
export { writeTflite } from "./write.js";
// Runtime (LiteRT.js, loaded lazily on first run) and the reference integer kernels.
export { loadTfliteRunner, liteRt, liteRtLog, withUint8Io, type TfliteRunner, type TfliteIo, type IoDtype, type IoArray, type RunnerOptions } from "./runtime.js";
export { runReference, kernels, quantizeMultiplier, multiplyByQuantizedMultiplier, srdhm, roundingDivideByPOT, roundHalfAway, seededRandom, type ReferenceResult, type RefArray } from "./reference/index.js";
export { summarizeTflite, formatTfliteSummary, formatQuant, type TfliteSummary, type TensorSummary, type OperatorSummary, type SubgraphSummary, type TensorQuantSummary } from "./summary.js";
