export { Conv2d, type Conv2dOptions } from "./conv.js";
export { Linear } from "./linear.js";
export { BatchNorm1d, BatchNorm2d, BatchNormBase, type BatchNorm, type BatchNormOptions } from "./batchnorm.js";
export { ReLU, Flatten, Identity } from "./activation.js";
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from "./pooling.js";
export { Sequential } from "./sequential.js";
export { GroupNorm, groupNormGroups } from "./groupnorm.js";
export { WSConv2d, WSLinear, standardiseWeight } from "./weight-standardised.js";
