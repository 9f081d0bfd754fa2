/**
 * Compiles a few src/ modules to plain ESM in a temp dir, so a separate `node` process
 * (e.g. an intermediate parent in the pdeathsig test) can import the real code.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const repoRoot = resolve(import.meta.dirname, "../..");

/** Transpiles `files` (repo-relative .ts paths) into `outDir`, keeping the layout; returns outDir. */
export async function transpileToDir(outDir: string, files: readonly string[]): Promise<string> {
  await writeFile(join(outDir, "package.json"), '{"type":"module"}\n');
  for (const file of files) {
    const source = await readFile(join(repoRoot, file), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    });
    const target = join(outDir, relative(".", file).replace(/\.ts$/, ".js"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  return outDir;
}
