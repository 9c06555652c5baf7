// Neural-network building blocks on the tensor layer: Module, layers, initialisations, ResNet, MLP heads.
export { Module, type LoadResult } from "./module.js";
export * from "./layers/index.js";
export * as init from "./init.js";
export { ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, RESNETS, type ResNetName, type ResNetOptions, type Stem } from "./resnet.js";
export { mlpHead } from "./mlp.js";
export { saveModule, loadModule } from "./io.js";
export { normLayer, convFor, linearFor, NORM_KINDS, type NormKind } from "./norm.js";
