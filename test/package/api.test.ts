// The public API: package.json's entries resolve to the compiled entry and its types, the entry
// exports what a library user needs, and every symbol it exports carries a TSDoc comment.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("package.json's main, types and exports point at the compiled entry and its declarations", async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  assert.equal(pkg.main, "dist/src/index.js");
  assert.equal(pkg.types, "dist/src/index.d.ts");
  assert.deepEqual(pkg.exports["."], { types: "./dist/src/index.d.ts", default: "./dist/src/index.js" });
  for (const f of [pkg.main, pkg.types]) assert.ok(existsSync(join(ROOT, f)), `${f} exists`);
  for (const dep of ["sharp", "pngjs", "cli-progress"]) assert.ok(pkg.dependencies[dep], `${dep} is a runtime dependency`);
  assert.equal(pkg.scripts.install, "node native/install.mjs");
  const api = await import(join(ROOT, pkg.main));
  // One name per layer: the tensor namespace up to whole runs.
  for (const name of ["torch", "nn", "Module", "Conv2d", "ResNet", "resnet18", "mlpHead", "LARS", "SGD", "warmupCosineLr", "byolTau", "BYOL",
    "ViewAugmenter", "byolPresets", "resolveDataset", "loadFashionMnist", "loadFolder", "extractFeatures", "knnTop1", "linearProbe",
    "evaluateRepresentations", "train", "evaluate", "resolveConfig", "presetConfig", "saveEncoder", "loadEncoder", "UserError"]) {
    assert.ok(name in api, `byol-ts exports ${name}`);
  }
  assert.equal(typeof api.torch.zeros, "function");
  assert.equal(api.nn.Module, api.Module);
});

test("every symbol the entry exports has a TSDoc comment at its definition", () => {
  const entry = join(ROOT, "src", "index.ts");
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, types: ["node"],
  });
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  let checked = 0;
  const visit = (sym: ts.Symbol, name: string, depth: number) => {
    const s = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decls = s.declarations ?? [];
    // A namespace export (`export * as torch`): check its members, one level down.
    if (decls.some((d) => ts.isSourceFile(d))) {
      if (depth === 0) for (const e of checker.getExportsOfModule(s)) visit(e, `${name}.${e.name}`, 1);
      return;
    }
    checked++;
    if (ts.displayPartsToString(s.getDocumentationComment(checker)).trim() === "") {
      const d = decls[0];
      const where = d ? `${d.getSourceFile().fileName.slice(ROOT.length)}:${d.getSourceFile().getLineAndCharacterOfPosition(d.getStart()).line + 1}` : "?";
      missing.push(`${name} (${where})`);
    }
  };
  for (const e of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!)) visit(e, e.name, 0);
  assert.ok(checked > 150, `checked ${checked} symbols`);
  assert.deepEqual(missing, []);
});
