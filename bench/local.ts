/**
 * The bench's own Seglog: a local stack (DynamoDB Local or dynalite, s3rver) in a process of its
 * own (`storage.ts`), and in this process the local HTTP API over the real handlers, each
 * function with its own context from `contextFromEnv` and the stack's environment, as each
 * Lambda function has. Every invocation is tallied per function with
 * its request and response bytes, for Lambda requests and API Gateway's 512 KB units, and runs in
 * its own `callScope`, so that its SDK calls are counted under the function's name; a fetch that
 * returned no data (a long poll at the end of a partition) counts under "fetch-idle" instead. The
 * handlers write the EMF log line they write in Lambda, counted and dropped.
 */
import type { ApiGatewayResult } from "../src/http/event.ts";
import { contextFromEnv, lazyContext, routes } from "../src/http/app.ts";
import { SEGMENTS_MEDIA_TYPE } from "../src/core/segment-locations.ts";
import { emfObserver } from "../src/http/metrics.ts";
import { lambdaHandler, type FunctionName } from "../src/http/router.ts";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startLocalApi, type LambdaHandler, type LocalApi } from "../src/local/server.ts";
import type { LocalStack } from "../src/local/stack.ts";
import { callScope, type SdkCalls } from "./sdk-calls.ts";

/** The storage process's stack, as it described itself. */
export type BenchStorage = Omit<LocalStack, "stop"> & { readonly pid: number };

/** API Gateway HTTP APIs meter requests in 512 KB increments. */
export const API_METERING_BYTES = 512 * 1024;

export interface InvocationTally {
  readonly invocations: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Σ ceil(max(request, response bytes) / 512 KB), at least 1 per request. */
  readonly apiUnits: number;
  /** Σ handler time, event in to result out (what Lambda would bill, on this machine). */
  readonly handlerMs: number;
  /** Σ bytes of the log line (EMF) each request writes in Lambda: CloudWatch Logs bills them. */
  readonly logBytes: number;
  /** Partitions the fetches read: 1 per per-partition fetch, as many as a fetch of several names. */
  readonly partitionsFetched: number;
}

/** A function's name, or "fetch-idle" for fetches that found no data. */
export type InvocationKind = FunctionName | "fetch-idle";

export interface BenchStack {
  readonly stack: BenchStorage;
  readonly api: LocalApi;
  /** Invocations per function since the last call, and a fresh start. */
  takeInvocations(): Partial<Record<InvocationKind, InvocationTally>>;
  stop(): Promise<void>;
}

const FUNCTIONS: readonly FunctionName[] = ["admin", "produce", "fetch", "groups"];

const bodyBytes = (body: unknown, base64: unknown): number =>
  typeof body !== "string" ? 0 : base64 === true ? Buffer.byteLength(body, "base64") : Buffer.byteLength(body, "utf8");

/** Runs `bench/storage.ts` in a child process; stop() closes its stdin, and it stops its stack. */
async function startStorage(log: (line: string) => void): Promise<BenchStorage & { stop(): Promise<void> }> {
  const script = fileURLToPath(new URL("./storage.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["pipe", "pipe", "pipe"] });
  createInterface({ input: child.stderr }).on("line", (line) => log(`[stack] ${line}`));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const described = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve)),
    exited.then(() => Promise.reject(new Error("the bench's storage process exited before it started"))),
  ]);
  const stack = JSON.parse(described) as Omit<LocalStack, "stop">;
  return {
    ...stack,
    pid: child.pid as number,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

export async function startBenchStack(sdk: SdkCalls, log: (line: string) => void): Promise<BenchStack> {
  const stack = await startStorage(log);
  let tallies: Partial<Record<InvocationKind, InvocationTally>> = {};
  let invocation = 0;
  // What each invocation would log in Lambda, by invocation scope (the observer runs inside it).
  const logged = new Map<string, number>();
  const observer = (fn: FunctionName) =>
    emfObserver(fn, (line) => {
      const scope = callScope.getStore();
      if (scope !== undefined) logged.set(scope, (logged.get(scope) ?? 0) + Buffer.byteLength(line) + 1);
    });
  const counted = (fn: FunctionName, handler: LambdaHandler): LambdaHandler => {
    return async (event: unknown) => {
      const scope = `${fn}#${++invocation}`;
      const startedMs = performance.now();
      const result: ApiGatewayResult = await callScope.run(scope, () => handler(event));
      const handlerMs = performance.now() - startedMs;
      const logBytes = logged.get(scope) ?? 0;
      logged.delete(scope);
      const e = event as { body?: unknown; isBase64Encoded?: unknown };
      const requestBytes = bodyBytes(e.body, e.isBase64Encoded);
      const responseBytes = bodyBytes(result.body, result.isBase64Encoded);
      const kind: InvocationKind = fn === "fetch" && result.statusCode === 200 && foundNothing(result, responseBytes) ? "fetch-idle" : fn;
      sdk.moveScope(scope, kind);
      const t = tallies[kind] ?? { invocations: 0, requestBytes: 0, responseBytes: 0, apiUnits: 0, handlerMs: 0, logBytes: 0, partitionsFetched: 0 };
      const several = (event as { queryStringParameters?: Record<string, string> }).queryStringParameters?.["partitions"];
      tallies[kind] = {
        invocations: t.invocations + 1,
        requestBytes: t.requestBytes + requestBytes,
        responseBytes: t.responseBytes + responseBytes,
        apiUnits: t.apiUnits + Math.max(1, Math.ceil(Math.max(requestBytes, responseBytes) / API_METERING_BYTES)),
        handlerMs: t.handlerMs + handlerMs,
        logBytes: t.logBytes + logBytes,
        partitionsFetched: t.partitionsFetched + (fn !== "fetch" ? 0 : several === undefined ? 1 : several.split(",").length),
      };
      return result;
    };
  };
  const handlers = Object.fromEntries(
    FUNCTIONS.map((fn) => [fn, counted(fn, lambdaHandler(routes, fn, lazyContext(() => contextFromEnv(stack.env)), observer(fn)))]),
  ) as Record<FunctionName, LambdaHandler>;
  let api: LocalApi;
  try {
    api = await startLocalApi({ port: 0, routes: routes as never, handlers });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  log(`[api] ${api.url} (DynamoDB: ${stack.engine}, S3: s3rver)`);
  return {
    stack,
    api,
    takeInvocations() {
      const out = tallies;
      tallies = {};
      return out;
    },
    async stop() {
      await api.close();
      await stack.stop();
    },
  };
}

/** Another local API over the same storage, its functions given more environment (say, a shorter
 * `SEGLOG_POLL_INTERVAL_MS`), with nothing tallied; each request still builds its EMF line. */
export async function startApiWith(stack: BenchStorage, env: Record<string, string>): Promise<LocalApi> {
  const functionEnv = { ...stack.env, ...env };
  const handlers = Object.fromEntries(
    FUNCTIONS.map((fn) => [fn, lambdaHandler(routes, fn, lazyContext(() => contextFromEnv(functionEnv)), emfObserver(fn, () => {}))]),
  ) as Record<FunctionName, LambdaHandler>;
  return startLocalApi({ port: 0, routes: routes as never, handlers });
}

/** A fetch's answer with no data: an empty binary body, or a segments answer (or a fetch of
 * several partitions' answers) naming none. */
function foundNothing(result: ApiGatewayResult, responseBytes: number): boolean {
  const type = result.headers?.["content-type"];
  if (type === SEGMENTS_MEDIA_TYPE) return (JSON.parse(result.body) as { segments: unknown[] }).segments.length === 0;
  if (type === "application/json" && result.body.startsWith('{"partitions":')) {
    return (JSON.parse(result.body) as { partitions: { segments?: unknown[] }[] }).partitions.every((p) => (p.segments?.length ?? 0) === 0);
  }
  return responseBytes === 0;
}
