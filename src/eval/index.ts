// Public API of src/eval: features, kNN, linear probe, the online classifier, the full evaluation,
// and the plain-TypeScript helpers of the run report.
export { extractFeatures, rawPixelFeatures, type EmbedFn, type FeatureOptions } from "./features.js";
export { knnPredict, knnTop1, accuracy, KNN_DEFAULTS, type KnnOptions } from "./knn.js";
export { linearProbe, LINEAR_DEFAULTS, type LinearProbeOptions, type LinearProbeResult } from "./linear.js";
export { runLinearProtocol, standardiseFeatures, argmaxValidation, WEIGHT_DECAY_GRID, type ProtocolRecord, type GridPoint } from "./linear-protocol.js";
export { fitLogisticLbfgs, covariancePreconditioner, type LbfgsOptions, type LogisticFit } from "./logistic-lbfgs.js";
export { validationSplit, VALIDATION_FRACTION, type ValidationSplit } from "./validation-split.js";
export { OnlineProbe, type OnlineProbeOptions, type OnlineProbeStep, type OnlineProbeEpoch } from "./online-probe.js";
export { headOptimizer, HEAD_LR, type HeadOptimizerName } from "./head-optimizer.js";
export { evaluateRepresentations, prepareSplits, type EvaluateOptions, type EvaluationResult, type EncoderScores } from "./evaluate.js";
export { embeddingMap, pca, type PcaOptions, type PcaResult } from "./embedding-map.js";
export { topKNeighbors, l2NormalizeRows, type NeighborOptions, type NeighborResult } from "./neighbors.js";
