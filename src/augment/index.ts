// Batched, per-image BYOL augmentations on the batch's device, and the view presets.
export { type ViewConfig, type CropInterpolation, validateViewConfig, blurKernelSize } from "./config.js";
export { ViewAugmenter, makeViews, runPlan } from "./view.js";
export { ViewPlan, type ViewDraws } from "./plan.js";
export { LocalViewAugmenter, localViewConfigs, validateLocalViews, type LocalViewsConfig } from "./local.js";
export {
  byolPresets, cifarPresets, grayscale28Presets, presetByName, chooseViewPreset, PRESET_NAMES, type PresetName,
  IMAGENET_MEAN, IMAGENET_STD, CIFAR10_MEAN, CIFAR10_STD, FASHION_MNIST_MEAN, FASHION_MNIST_STD,
} from "./presets.js";
export { sampleCropBoxes, resizedCrop } from "./crop.js";
export {
  grayscale, adjustBrightness, adjustContrast, adjustSaturation, randomGrayscale, solarize, normalize, denormalize,
} from "./color.js";
export { rgbToHsv, hsvToRgb, adjustHue } from "./hue.js";
export { colorJitter, activeSteps, type JitterParams } from "./jitter.js";
export { gaussianKernels, gaussianBlur } from "./blur.js";
export { renderPreview, type PreviewOptions } from "./preview.js";
