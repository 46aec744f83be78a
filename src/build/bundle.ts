/**
 * Builds the Lambda bundles: one `dist/functions/<name>/index.mjs` (+ source map) per
 * `functions/<name>.ts`. The CDK stack deploys exactly these directories (`infra/function.ts`),
 * and the infra tests import the same files, so what is tested is what is deployed.
 *
 * ESM for Node 20+ (Lambda runs the newer `nodejs24.x`; Node 20 is the oldest runtime we test
 * on). Everything is bundled, the AWS SDK included: the runtime's own SDK copy moves with
 * Lambda's release train, while the bundle pins the version the tests ran. A `require` shim
 * lets bundled CommonJS code load Node built-ins from an ES module.
 *
 * Run alone with `npm run build:functions` (prints the sizes); `cdk synth` runs it first.
 */
import { build, buildSync, type BuildOptions, type OutputFile } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is `src/build/bundle.ts`). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FUNCTIONS_DIR = join(REPO_ROOT, "functions");
export const BUNDLES_DIR = join(REPO_ROOT, "dist", "functions");

/** The file inside each bundle directory; the Lambda handler string is `index.handler`. */
export const BUNDLE_FILE = "index.mjs";
export const BUNDLE_HANDLER = "index.handler";

export interface Bundle {
  readonly name: string;
  /** The directory to deploy: `dist/functions/<name>`. */
  readonly dir: string;
  /** `dir/index.mjs` */
  readonly file: string;
  readonly bytes: number;
  readonly sourceMapBytes: number;
}

export interface BundleOptions {
  /** @default every `functions/*.ts` */
  readonly names?: readonly string[];
  /** @default `dist/functions` */
  readonly outDir?: string;
}

/** The function names, from the files in `functions/`. */
export function functionNames(): string[] {
  return readdirSync(FUNCTIONS_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => basename(f, ".ts"))
    .sort();
}

const REQUIRE_SHIM = 'import { createRequire as __seglogCreateRequire } from "node:module"; const require = __seglogCreateRequire(import.meta.url);';

function esbuildOptions(name: string): BuildOptions {
  return {
    entryPoints: [join(FUNCTIONS_DIR, `${name}.ts`)],
    outfile: join(BUNDLES_DIR, name, BUNDLE_FILE),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    sourcemap: "external",
    // Stack traces map back to file and line; the sources themselves stay out of the asset.
    sourcesContent: false,
    legalComments: "none",
    banner: { js: REQUIRE_SHIM },
    logLevel: "silent",
    write: false,
  };
}

/** Builds the bundles (in parallel) and writes them; see {@link bundleFunctionsSync}. */
export async function bundleFunctions(options: BundleOptions = {}): Promise<Bundle[]> {
  const names = options.names ?? functionNames();
  const outputs = await Promise.all(names.map((name) => build(esbuildOptions(name))));
  return names.map((name, i) => writeBundle(name, outputs[i]?.outputFiles ?? [], options.outDir));
}

/**
 * The same, synchronously: CDK constructs are built synchronously, and a synth must never deploy
 * a stale bundle, so the stack builds them itself (about a second for all functions).
 */
export function bundleFunctionsSync(options: BundleOptions = {}): Bundle[] {
  const names = options.names ?? functionNames();
  return names.map((name) => writeBundle(name, buildSync(esbuildOptions(name)).outputFiles ?? [], options.outDir));
}

/**
 * Writes each output file through a temporary name and a rename, and leaves identical files
 * alone: test files synthesize in parallel processes, and a reader must never see half a bundle.
 */
function writeBundle(name: string, files: readonly OutputFile[], outDir = BUNDLES_DIR): Bundle {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    const target = join(dir, basename(file.path));
    if (sameContents(target, file.contents)) continue;
    const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temp, file.contents);
    renameSync(temp, target);
  }
  const fileOf = (suffix: string) => join(dir, BUNDLE_FILE + suffix);
  if (!files.some((f) => basename(f.path) === BUNDLE_FILE)) throw new Error(`esbuild produced no ${BUNDLE_FILE} for ${name}`);
  return { name, dir, file: fileOf(""), bytes: statSync(fileOf("")).size, sourceMapBytes: statSync(fileOf(".map")).size };
}

function sameContents(path: string, contents: Uint8Array): boolean {
  try {
    return Buffer.from(contents).equals(readFileSync(path));
  } catch {
    return false;
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const b of await bundleFunctions()) {
    console.log(`${relative(REPO_ROOT, b.file)}  ${kib(b.bytes)}  (source map ${kib(b.sourceMapBytes)})`);
  }
}
