/**
 * Builds the Lambda bundles: one `dist/functions/<name>/` directory per `functions/<name>.ts`,
 * holding `index.mjs` (the handler), the chunks it loads, and source maps. The CDK stack deploys
 * exactly these directories (`infra/function.ts`), and the infra tests import the same files, so
 * what is tested is what is deployed.
 *
 * ESM for Node 20+ (Lambda runs the newer `nodejs24.x`; Node 20 is the oldest runtime we test
 * on). Everything is bundled, the AWS SDK included: the runtime's own SDK copy moves with
 * Lambda's release train, while the bundle pins the version the tests ran. A `require` shim
 * lets bundled CommonJS code load Node built-ins from an ES module.
 *
 * Cold starts: packages are read from their ES module builds where they ship one (`module`
 * before `main`), which esbuild can tree-shake (the AWS SDK's CommonJS builds it cannot); code
 * reached only through `import()` goes into chunks that load on first use; and the SDK's clients
 * get Lambda's credentials from the environment alone ({@link lambdaCredentials}). So the INIT
 * phase compiles only what every request needs.
 *
 * Run alone with `npm run build:functions` (prints the sizes); `cdk synth` runs it first.
 */
import { build, type BuildOptions, type BuildResult, type ImportKind, type Metafile, type Plugin } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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
  /** Every module file of the bundle: what is deployed, source maps aside. */
  readonly bytes: number;
  /** What the INIT phase loads: `index.mjs` and the chunks it imports statically. */
  readonly initBytes: number;
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

/**
 * The AWS SDK's schema modules (`dist-es/schemas/schemas_0.js`) describe every operation of a
 * service in array literals with keys like `{ [_h]: ["DELETE", "/?cors", 204] }`, where `_h` is
 * a string constant of the module. A computed key may run code (a `toString`), so esbuild keeps
 * every declaration holding one, and with them the S3 client's hundred-odd operations that
 * Seglog never sends. Writing each constant in place (`{ "http": … }`) leaves plain literals
 * that tree shaking can drop: 53 KiB less for the INIT phase to compile (bench cold start).
 */
export const inlineSchemaKeys: Plugin = {
  name: "inline-sdk-schema-keys",
  setup(b) {
    b.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, (args) => ({
      contents: inlineStringKeys(readFileSync(args.path, "utf8")),
      loader: "js",
    }));
  },
};

/** `const _x = "v";` … `{ [_x]: 1 }` → `{ "v": 1 }`; keys naming anything else stay as they are. */
export function inlineStringKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const m of source.matchAll(/^const (_\w+) = ("[^"\\\n]*");$/gm)) constants.set(m[1] as string, m[2] as string);
  return source.replace(/\[(_\w+)\]:/g, (key, name: string) => {
    const value = constants.get(name);
    return value === undefined ? key : `${value}:`;
  });
}

/**
 * In a Lambda function the SDK's default credential chain never gets past its first link, the
 * environment variables Lambda sets (src/build/lambda-credentials.ts), so the bundles import that
 * link alone: 15 KiB less for the INIT phase to compile (the chain's static part, and the STS and
 * SSO clients' shared code that splitting put beside it) and 100 KiB less deployed.
 */
export const lambdaCredentials: Plugin = {
  name: "lambda-credentials",
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: join(REPO_ROOT, "src", "build", "lambda-credentials.ts") }));
  },
};

function esbuildOptions(name: string, entry = join(FUNCTIONS_DIR, `${name}.ts`)): BuildOptions & { metafile: true; write: false } {
  return {
    entryPoints: [entry],
    outdir: join(BUNDLES_DIR, name),
    entryNames: "index",
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    mainFields: ["module", "main"],
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    sourcemap: "external",
    // Stack traces map back to file and line; the sources themselves stay out of the asset.
    sourcesContent: false,
    legalComments: "none",
    banner: { js: REQUIRE_SHIM },
    plugins: [inlineSchemaKeys, lambdaCredentials],
    logLevel: "silent",
    metafile: true,
    write: false,
  };
}

/** Builds the bundles (in parallel) and writes them; see {@link bundleFunctionsSync}. */
export async function bundleFunctions(options: BundleOptions = {}): Promise<Bundle[]> {
  const names = options.names ?? functionNames();
  const outputs = await Promise.all(names.map((name) => build(esbuildOptions(name))));
  return names.map((name, i) => writeBundle(name, outputs[i] as BuildResult<{ metafile: true; write: false }>, options.outDir));
}

/** Bundles another entry file exactly as a function's, into `outDir/<name>` (the bench's SDK baseline). */
export async function bundleEntry(name: string, entry: string, outDir: string): Promise<Bundle> {
  return writeBundle(name, await build(esbuildOptions(name, entry)), outDir);
}

/**
 * The same, synchronously: CDK constructs are built synchronously, and a synth must never deploy
 * a stale bundle, so the stack builds them itself (about two seconds for all functions). esbuild's
 * synchronous API takes no plugins, so a child process runs {@link bundleFunctions} and answers
 * with the bundles as JSON.
 */
export function bundleFunctionsSync(options: BundleOptions = {}): Bundle[] {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const script = `import { bundleFunctions } from ${JSON.stringify(import.meta.url)};
process.stdout.write(JSON.stringify(await bundleFunctions(${JSON.stringify(options)})));`;
  const out = execFileSync(process.execPath, ["--import", tsx, "--input-type=module", "--eval", script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out) as Bundle[];
}

/**
 * Writes each output file through a temporary name and a rename, leaves identical files alone,
 * and then removes files an earlier build left (chunk names carry a hash of their contents):
 * test files synthesize in parallel processes, and a reader must never see half a bundle. Only
 * what `index.mjs` can load is written: esbuild also emits chunks for `import()`s in code that
 * tree shaking removed (the client's zstd encoder, 240 KiB), which nothing would ever load.
 */
function writeBundle(name: string, result: BuildResult<{ metafile: true; write: false }>, outDir = BUNDLES_DIR): Bundle {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  const loadable = reachable(result.metafile, BUNDLE_FILE, ["import-statement", "dynamic-import"]);
  if (!loadable.has(BUNDLE_FILE)) throw new Error(`esbuild produced no ${BUNDLE_FILE} for ${name}`);
  const written = new Set<string>();
  for (const file of result.outputFiles) {
    const fileName = basename(file.path);
    if (!loadable.has(fileName.replace(/\.map$/, ""))) continue;
    const target = join(dir, fileName);
    written.add(fileName);
    if (sameContents(target, file.contents)) continue;
    const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temp, file.contents);
    renameSync(temp, target);
  }
  for (const stale of readdirSync(dir)) if (!written.has(stale) && !stale.endsWith(".tmp")) rmSync(join(dir, stale), { force: true });
  const sizeOf = (files: Iterable<string>) => [...files].reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  return {
    name,
    dir,
    file: join(dir, BUNDLE_FILE),
    bytes: sizeOf(loadable),
    initBytes: sizeOf(reachable(result.metafile, BUNDLE_FILE, ["import-statement"])),
    sourceMapBytes: sizeOf([...written].filter((f) => f.endsWith(".map"))),
  };
}

/** The output file and every chunk it reaches through imports of the given kinds, by file name. */
function reachable(metafile: Metafile, entry: string, kinds: readonly ImportKind[]): Set<string> {
  const byName = new Map(Object.entries(metafile.outputs).map(([path, output]) => [basename(path), output]));
  const seen = new Set<string>();
  const visit = (file: string) => {
    const output = byName.get(file);
    if (seen.has(file) || !output) return;
    seen.add(file);
    for (const i of output.imports) if ((kinds as readonly string[]).includes(i.kind) && !i.external) visit(basename(i.path));
  };
  visit(entry);
  return seen;
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
    console.log(`${relative(REPO_ROOT, b.dir)}  ${kib(b.bytes)}, ${kib(b.initBytes)} loaded at init  (source maps ${kib(b.sourceMapBytes)})`);
  }
}
