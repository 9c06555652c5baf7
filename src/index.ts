// byol-ts as a library: BYOL self-supervised learning (Grill et al. 2020) in TypeScript on libtorch.
// The groups below follow the layers, bottom to top; each layer uses only the ones above it here.
//
//   import { train, nn, torch } from "byol-ts";
//   const run = await train({ preset: "smoke" }, { runDir: "runs/first" });

// Tensors, autograd, devices, dtypes, memory scopes, safetensors I/O, torch.distributed: libtorch's face.
export * as torch from "./torch/index.js";
export { Tensor, tidy, noGrad, manualSeed, setNumThreads, torchVersion, type Scalar, type TensorOrScalar } from "./torch/index.js";

// Modules and layers, initialisations, the torchvision-named ResNets and the MLP heads.
export * as nn from "./nn/index.js";
export {
  Module, Conv2d, Linear, BatchNorm1d, BatchNorm2d, ReLU, Flatten, Identity, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Sequential,
  ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, RESNETS, mlpHead, saveModule, loadModule,
  type Conv2dOptions, type BatchNormOptions, type ResNetName, type ResNetOptions, type Stem, type LoadResult,
} from "./nn/index.js";

// Optimizers (SGD, LARS, AdamW), weight-decay groups, and BYOL's learning-rate and τ schedules.
export {
  Optimizer, SGD, LARS, AdamW, splitDecay, isExcludedFromDecay, warmupCosineLr, scaleLr, byolTau,
  type ParamGroup, type SGDOptions, type LARSOptions, type AdamWOptions,
} from "./optim/index.js";

// The BYOL learner (online, target, predictor) and its loss.
export { BYOL, byolLoss, symmetricByolLoss, collapseMetric, type BYOLOptions, type Encoder, type ForwardLossResult, type TargetMode } from "./byol/index.js";

// Batched per-image view augmentations and the view-pair presets (BYOL's, CIFAR's, 28x28 grey).
export {
  ViewAugmenter, makeViews, byolPresets, cifarPresets, grayscale28Presets, presetByName, chooseViewPreset, PRESET_NAMES as AUGMENT_PRESETS,
  type ViewConfig, type PresetName as AugmentPresetName,
} from "./augment/index.js";

// Multi-crop: local views of every image through the online network (docs/multi-crop.md).
export { MultiCropBYOL, type MultiCropBYOLOptions, type LocalPredictor } from "./byol/index.js";
export { LocalViewAugmenter, type LocalViewsConfig } from "./augment/index.js";

// Datasets: IDX (Fashion-MNIST, MNIST), CIFAR-10, STL-10, image folders, names as the CLI takes them.
export {
  resolveDataset, parseDatasetSpec, folderSplits, stratifiedHoldout, DEFAULT_HOLDOUT,
  loadFashionMnist, loadMnist, loadCifar10, loadStl10, listFolder, loadFolder, folderStream, FolderReader,
  subset, head, concatSets, channelStats, sampleSubset, readNpy, writeNpy,
  type ImageSet, type ResolvedDataset, type ResolveOptions, type FolderListing, type FolderOptions, type HoldoutSplit, type TrainingData,
} from "./data/index.js";
export { probeFolderImages, resizeSet, type ImageShape } from "./data/index.js";

// Evaluation: features of an encoder, kNN, linear probe, and the whole evaluation against baselines.
export {
  extractFeatures, rawPixelFeatures, knnTop1, knnPredict, linearProbe, evaluateRepresentations, OnlineProbe,
  type EmbedFn, type FeatureOptions, type KnnOptions, type LinearProbeOptions, type LinearProbeResult, type EvaluateOptions, type EvaluationResult,
} from "./eval/index.js";
export { extractFeaturesStream } from "./eval/features.js";

// Whole runs as `byol train` and `byol eval` do them, their configuration, and the exported encoder.
export { trainRun as train, resolveConfig, defaultRunDir, type ConfigInput, type RunOptions, type RunResult } from "./train/run.js";
export { evaluateRunDir as evaluate, evaluateRun, type EvaluateRunDirOptions, type RunEvaluation } from "./train/evaluate-run.js";
export { presetConfig, validateConfig, type TrainConfig, type PresetName, type AblationSwitches } from "./train/config.js";
export { runAblation, ABLATION_VARIANTS, type AblationOptions, type AblationSummary } from "./train/ablation.js";
export { makeEncoder, makeLearner, type EncoderFactory } from "./train/build.js";
export { train as trainLoop, type TrainOptions, type TrainResult } from "./train/trainer.js";
export { ENCODER_FILE, saveEncoder, readEncoderFile, loadEncoder, type EncoderMeta } from "./train/export.js";
// The encoder as ONNX, for runtimes without libtorch: a run folder's (exportOnnx) or any module's (moduleToOnnx).
export { exportOnnx, ONNX_FILE, type ExportOnnxOptions, type ExportOnnxResult } from "./train/export-onnx.js";
export { moduleToOnnx, EXPORTABLE_MODULES, type OnnxExportOptions, type OnnxModel } from "./nn/onnx/index.js";
export { resolveRecipe, openRunData, recipeLine, type RecipeRecord } from "./train/recipe.js";

// The one error type for bad input (a missing file, a wrong value): its message is one line for the user.
export { UserError } from "./util/errors.js";
