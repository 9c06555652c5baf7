// Optimizers (SGD, LARS, AdamW), parameter groups and BYOL's schedules.
export { Optimizer, type ParamGroup, type ResolvedGroup, type OptimizerDefaults } from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { LARS, type LARSOptions } from "./lars.js";
export { AdamW, type AdamWOptions } from "./adamw.js";
export { splitDecay, isExcludedFromDecay } from "./groups.js";
export { warmupCosineLr, scaleLr, byolTau } from "./schedules.js";
export { hasForeach } from "./foreach.js";
