// Modules to and from .safetensors files, under their state-dict names.
import * as T from "../torch/index.js";
import type { LoadResult, Module } from "./module.js";

/** Writes the module's parameters and persistent buffers (atomically) with optional string metadata. */
export function saveModule(path: string, module: Module, metadata?: Record<string, string>): void {
  T.saveSafetensors(path, module.stateDict(), metadata);
}

/**
 * Loads a file written by saveModule (or any safetensors file with matching names) into the module.
 * strict (default) requires exactly the module's keys; a missing or corrupt file raises a UserError.
 */
export function loadModule(path: string, module: Module, opts: { strict?: boolean } = {}): LoadResult & { metadata: Record<string, string> } {
  const { tensors, metadata } = T.loadSafetensors(path);
  try {
    return { ...module.loadStateDict(tensors, opts), metadata };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
