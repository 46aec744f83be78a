import { contextFromEnv, maintain, routes } from "../http/app.ts";
import { constants as osConstants } from "node:os";
import { pathToFileURL } from "node:url";
import { stop as stopEsbuild } from "esbuild";
import { bundleFunctions } from "../build/bundle.ts";
import type { FunctionName } from "../http/router.ts";
import { startLocalApi, type LambdaHandler } from "../local/server.ts";
import { startLocalStack } from "../local/stack.ts";
import { checkedLogOptions, logOptionsFromEnv } from "../log/options.ts";
import { intArg, parse } from "./args.ts";
import { UsageError } from "./output.ts";
import { MAX_TIMER_MS } from "../client/options.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);

/** How long requests in flight at Ctrl-C may take to finish: deployed, API Gateway gives up on a
 * request after 30 s, and the longest function timeout (fetch) is 28 s. */
const DRAIN_MS = 30_000;

/**
 * `seglog dev` (= `npm start`): the whole of Seglog on this machine. The HTTP API turns each
 * request into an API Gateway event for the same Lambda handlers that AWS runs.
 */
export async function devCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    port: { type: "string" },
    "data-dir": { type: "string" },
    dynamo: { type: "string" },
    "maintenance-interval-ms": { type: "string" },
  });
  if (values.url !== undefined) throw new UsageError("dev takes no --url: it serves the API itself (--port, default 8092)");
  const maintenanceIntervalMs = intArg(values["maintenance-interval-ms"], "maintenance-interval-ms", 0, MAX_TIMER_MS) ?? 60_000;
  const port = intArg(values.port, "port", 0, 65_535) ?? 8092;
  const dynamo = values.dynamo ?? "auto";
  if (dynamo !== "auto" && dynamo !== "dynamodb-local" && dynamo !== "dynalite") {
    throw new UsageError("--dynamo must be auto, dynamodb-local or dynalite");
  }
  // The functions read SEGLOG_POLL_INTERVAL_MS from this environment: refuse a bad one now rather
  // than answer every request with its error.
  try {
    checkedLogOptions(logOptionsFromEnv(process.env));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const stack = await startLocalStack({
    dynamo,
    ...(values["data-dir"] === undefined ? {} : { dataDir: values["data-dir"] }),
    log: (line) => say(`[stack] ${line}`),
  });
  let api;
  try {
    Object.assign(process.env, stack.env);
    // The same bundles `cdk deploy` ships (dist/functions/<name>/index.mjs), built now.
    const bundles = await bundleFunctions({ names: ["admin", "produce", "fetch", "groups"] });
    await stopEsbuild(); // its service process would otherwise outlive Ctrl-C
    const load = async (name: FunctionName): Promise<LambdaHandler> => {
      const bundle = bundles.find((b) => b.name === name);
      if (!bundle) throw new Error(`no bundle for ${name}`);
      return ((await import(pathToFileURL(bundle.file).href)) as { handler: LambdaHandler }).handler;
    };
    const handlers = { admin: await load("admin"), produce: await load("produce"), fetch: await load("fetch"), groups: await load("groups") };
    say(`[dev] serving the Lambda bundles in dist/functions (${bundles.map((b) => `${b.name} ${Math.round(b.bytes / 1024)} KiB`).join(", ")})`);
    api = await startLocalApi({ port, routes: routes as never, handlers });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  say();
  say(`Seglog is running (DynamoDB: ${stack.engine}, S3: s3rver, data: ${values["data-dir"] ?? "in memory"}).`);
  say(`  HTTP API   ${api.url}/v1`);
  say(`  DynamoDB   ${stack.dynamoEndpoint}  (table ${stack.table})`);
  say(`  S3         ${stack.s3Endpoint}  (bucket ${stack.bucket})`);
  say();
  say("To use these from other tools, export:");
  for (const [k, v] of Object.entries(stack.env)) say(`  export ${k}=${v}`);
  say(`  export SEGLOG_URL=${api.url}`);
  say();
  say("Try it (in another terminal):");
  const url = port === 8092 ? "" : ` --url ${api.url}`;
  say(`  npx seglog topics --create --topic test --partitions 3${url}`);
  say(`  seq 1 1000 | npx seglog produce --topic test${url}`);
  say(`  npx seglog consume --topic test --from-beginning --max-messages 1000${url}`);
  say(`  curl -s -X POST ${api.url}/v1/topics/test/records -H 'content-type: application/json' -d '{"records":[{"key":"k","value":"hello"}]}'`);
  say(`  curl -s '${api.url}/v1/topics/test/partitions/0/records?offset=0'`);
  say();
  const maintenance = contextFromEnv();
  let maintaining: Promise<unknown> | undefined;
  const timer =
    maintenanceIntervalMs > 0
      ? setInterval(() => {
          if (maintaining) return; // a run that overran its budget: one at a time, as on AWS
          maintaining = maintain(maintenance, { budgetMs: maintenanceIntervalMs / 2 })
            .then(
              // What it did, or a partition's failure (which does not stop the others).
              (r) => (r.merges || r.segmentsDeleted || r.orphansDeleted || r.sharedObjectsDeleted || r.reservationsAborted || r.topicsDeleted || r.failures) && say(`[maintenance] ${JSON.stringify(r)}`),
              (e: unknown) => say(`[maintenance] failed: ${(e as Error).message}`),
            )
            .finally(() => (maintaining = undefined));
        }, maintenanceIntervalMs)
      : undefined;
  say(maintenanceIntervalMs > 0 ? `Maintenance runs every ${maintenanceIntervalMs} ms (--maintenance-interval-ms, 0 to turn off).` : "Maintenance is off.");
  say("Press Ctrl-C to stop.");
  // The first Ctrl-C stops in order: no new requests, those in flight finish, then the emulators
  // they use. A second one ends the process at once (its exit handlers still end the emulators).
  let stopRequested = (): void => {};
  const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => (++signals === 1 ? stopRequested() : process.exit(128 + osConstants.signals[signal]));
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    // A part of the stack that ends by itself (DynamoDB Local) stops the whole: serving on would
    // answer every request with an error.
    const failure = await Promise.race([stopping.then(() => undefined), stack.failed]);
    if (failure) say("A part of the stack stopped by itself (below): stopping the rest.");
    say(`Stopping: requests in flight get up to ${DRAIN_MS / 1000} s to finish (Ctrl-C again to stop at once)…`);
    if (timer) clearInterval(timer);
    await Promise.all([api.close(DRAIN_MS), maintaining]);
    await stack.stop();
    if (failure) throw failure;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
  return 0;
}
