// The BYOL learner, its loss and the target update.
export { BYOL, type BYOLOptions, type Encoder, type ForwardLossResult, type OnlineNetwork, type TargetNetwork, type TargetMode } from "./learner.js";
export { byolLoss, symmetricByolLoss } from "./loss.js";
export { collapseMetric } from "./collapse.js";
export { MultiCropBYOL, type MultiCropBYOLOptions, type LocalPredictor } from "./multicrop.js";
