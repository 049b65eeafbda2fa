export type * from "./lowered.js";
