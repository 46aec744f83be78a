/**
 * Cold start per Lambda function: the bundle that would be deployed (`src/build/bundle.ts`, built
 * into a temporary directory), its size raw, gzipped (about what the deployment zip holds) and
 * the part the INIT phase loads, and, in fresh Node processes, the module initialisation time (the `import()` of the bundle:
 * what Lambda's INIT phase runs) and the first invocation against the local stack (SDK clients
 * built, topic metadata read: what the first request after a cold start pays on top). The
 * scheduled maintenance function is only imported: its first run is a maintenance pass. Beside
 * them, measured alike in the same rounds, the baseline of bench/sdk-baseline.ts: the AWS SDK's
 * clients and the commands Seglog sends, with none of Seglog's code, so that each run shows how
 * much of a function's initialisation is the SDK's.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { bundleEntry, bundleFunctions } from "../src/build/bundle.ts";
import { Admin } from "../src/client/admin.ts";
import { routes } from "../src/http/app.ts";
import { matchRoute } from "../src/http/router.ts";
import { runNode } from "./child.ts";
import type { BenchStack } from "./local.ts";

export interface ColdStart {
  readonly name: string;
  /** Every module file of the bundle, source maps aside. */
  readonly bundleBytes: number;
  readonly gzipBytes: number;
  /** What `import()` of the handler loads: `index.mjs` and its static chunks. */
  readonly initBytes: number;
  /** Median over fresh processes. */
  readonly initMs: number;
  readonly initMsRuns: number[];
  /** The first request's handler time, median; absent for functions without an HTTP route here. */
  readonly firstInvokeMs?: number;
}

export interface ColdStartResult {
  readonly suite: "coldStart";
  readonly runs: number;
  readonly node: string;
  readonly functions: ColdStart[];
  /** The AWS SDK's clients and commands alone, bundled and measured alike (bench/sdk-baseline.ts). */
  readonly sdkBaseline: ColdStart;
}

/** The baseline's bundle name. */
const SDK_BASELINE = "sdk-baseline";

/** Times `import()` of the bundle, then one handler call with the given event, in this process. */
const CHILD = `
const MARK = ${JSON.stringify("@@seglog-cold-start@@")};
const [file, eventJson] = process.argv.slice(1);
const t0 = performance.now();
const mod = await import(file);
const initMs = performance.now() - t0;
let firstInvokeMs;
if (eventJson) {
  const t1 = performance.now();
  const result = await mod.handler(JSON.parse(eventJson));
  firstInvokeMs = performance.now() - t1;
  if (typeof result?.statusCode === "number" && result.statusCode >= 400) throw new Error("first invocation answered " + result.statusCode + ": " + result.body);
}
process.stdout.write("\\n" + MARK + JSON.stringify({ initMs, firstInvokeMs }) + "\\n");
`;

/** Marks the child's result line: handlers may log to stdout too. */
const MARK = "@@seglog-cold-start@@";

async function measure(file: string, event: unknown, env: Record<string, string>): Promise<{ initMs: number; firstInvokeMs?: number }> {
  const args = ["--input-type=module", "-e", CHILD, pathToFileURL(file).href, ...(event === undefined ? [] : [JSON.stringify(event)])];
  const out = await runNode(args, `cold start of ${file}`, env);
  const line = out.split("\n").find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`cold start of ${file} printed no result`);
  return JSON.parse(line.slice(MARK.length)) as { initMs: number; firstInvokeMs?: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function httpEvent(method: string, path: string, query: Record<string, string> = {}, body?: string) {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: body === undefined ? {} : { "content-type": "application/json" },
    queryStringParameters: query,
    requestContext: { http: { method, path, sourceIp: "127.0.0.1" }, stage: "$default" },
    ...(body === undefined ? {} : { body, isBase64Encoded: false }),
  };
}

export async function runColdStartBench(bench: BenchStack, runs: number, log: (line: string) => void): Promise<ColdStartResult> {
  const topic = `bench-cold-${Date.now().toString(36)}`;
  await new Admin({ url: bench.api.url }).createTopic(topic, { partitions: 1 });
  const firstEvents: Record<string, unknown> = {
    admin: httpEvent("GET", "/v1/topics"),
    produce: httpEvent("POST", `/v1/topics/${topic}/records`, {}, JSON.stringify({ records: [{ value: "cold" }] })),
    fetch: httpEvent("GET", `/v1/topics/${topic}/partitions/0/records`, { offset: "0", maxWaitMs: "0" }),
    ...(matchRoute(routes, "GET", "/v1/groups") ? { groups: httpEvent("GET", "/v1/groups") } : {}),
  };
  const dir = mkdtempSync(join(tmpdir(), "seglog-bench-bundles-"));
  try {
    const bundles = await bundleFunctions({ outDir: dir });
    const baseline = await bundleEntry(SDK_BASELINE, fileURLToPath(new URL("./sdk-baseline.ts", import.meta.url)), dir);
    const all = [...bundles, baseline];
    // Round by round, every bundle once per round: the machine's drift falls on all of them alike.
    const samples = all.map(() => [] as { initMs: number; firstInvokeMs?: number }[]);
    for (let i = 0; i < runs; i++) {
      for (const [j, b] of all.entries()) samples[j]?.push(await measure(b.file, firstEvents[b.name], bench.stack.env));
    }
    const measured = all.map((b, j): ColdStart => {
      const taken = samples[j] ?? [];
      const firsts = taken.map((s) => s.firstInvokeMs).filter((x): x is number => x !== undefined);
      const initMsRuns = taken.map((s) => s.initMs);
      log(`coldStart: ${b.name} ${(b.bytes / 1024).toFixed(0)} KiB (${(b.initBytes / 1024).toFixed(0)} KiB at init), init ${median(initMsRuns).toFixed(1)} ms`);
      return {
        name: b.name,
        bundleBytes: b.bytes,
        gzipBytes: readdirSync(b.dir)
          .filter((f) => f.endsWith(".mjs"))
          .reduce((sum, f) => sum + gzipSync(readFileSync(join(b.dir, f)), { level: 9 }).byteLength, 0),
        initBytes: b.initBytes,
        initMs: median(initMsRuns),
        initMsRuns,
        ...(firsts.length > 0 ? { firstInvokeMs: median(firsts) } : {}),
      };
    });
    return { suite: "coldStart", runs, node: process.version, functions: measured.slice(0, -1), sdkBaseline: measured.at(-1) as ColdStart };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
