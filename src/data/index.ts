// Public API of src/data, and `resolveDataset`, which turns a dataset name from the command line
// into loaded train and test sets with their normalisation statistics.
export * from "./dataset.js";
export * from "./idx.js";
export * from "./cifar.js";
export * from "./stl10.js";
export * from "./folder.js";
export * from "./loader.js";
export * from "./npy.js";
export * from "./training-data.js";
export { stratifiedHoldout, DEFAULT_HOLDOUT, type HoldoutSplit } from "./holdout.js";
export { FolderReader, type FolderReaderOptions, type FolderReaderStats } from "./folder-reader.js";
export { DecodePool, defaultWorkerCount } from "./decode-pool.js";
export { decodeImageFile, type DecodeSize } from "./image-decode.js";
export {
  resolveDataset, parseDatasetSpec, folderSplits, DATASET_FORMS, STREAM_ABOVE_BYTES, STATS_SAMPLE, STATS_SEED, STREAMED_EVAL_BYTES,
  type ResolvedDataset, type ResolveOptions, type DatasetSpec,
} from "./resolve.js";
export { probeFolderImages, resizeSet, PROBE_SAMPLE, type ImageShape } from "./image-shape.js";
