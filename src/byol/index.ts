// The BYOL learner, its loss and the target update.
export { BYOL, type BYOLOptions, type Encoder, type ForwardLossResult, type OnlineNetwork, type TargetNetwork } from "./learner.js";
export { byolLoss, symmetricByolLoss } from "./loss.js";
export { MultiCropBYOL, type MultiCropBYOLOptions, type LocalPredictor } from "./multicrop.js";
