/**
 * The HTTP fuzz harness: runs fast-check inputs through the real Lambda handlers over the run's
 * local stack and holds every answer to the contract. An answer is either a success (a valid
 * input may well be one) that matches docs/openapi.yaml, or a typed 4xx: an error body as the
 * spec shapes it, the status its kind maps to, `Retry-After` when throttled. Never a 5xx, never a
 * throw. A rejected request must leave the log as it was: each route names the state it could
 * change (partition offsets, topic metadata, group members and leases), and the harness compares
 * it with what it was before whenever the rejected request wrote anything to storage, and on a
 * sample of the others. A rejected request that wrote nothing cannot have changed anything.
 *
 * `SEGLOG_FUZZ_RUNS` sets the cases per route (`npm run test:fuzz` runs 10,000);
 * `SEGLOG_FUZZ_SEED` replays a run.
 */
import { readFileSync } from "node:fs";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import fc from "fast-check";
import { expect } from "vitest";
import { parse } from "yaml";
import { SeglogError, httpStatusOf, isErrorKind } from "../../src/core/errors.ts";
import { routes } from "../../src/http/app.ts";
import { parseApiGatewayEvent, type ApiGatewayResult } from "../../src/http/event.ts";
import { matchRoute, type FunctionName } from "../../src/http/router.ts";
import { v1Event, v2Event, type Invoke } from "../helpers/log.ts";

/** Cases per route: a few hundred inside `npm test`, 10,000 in `npm run test:fuzz`. */
export const RUNS = positive(process.env["SEGLOG_FUZZ_RUNS"]) ?? 200;
export const SEED = Number(process.env["SEGLOG_FUZZ_SEED"] ?? Date.now() % 2 ** 31);

/** A test's time budget for one route's cases (generous: cases that wait on storage are slow on shared cores). */
export const routeTimeoutMs = (runs = RUNS) => 60_000 + runs * 150;

function positive(v: string | undefined): number | undefined {
  const n = Number(v);
  return v !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string | undefined>;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** A REST API (payload 1.0) event instead of an HTTP API (2.0) one. */
  readonly rest?: boolean;
}

export interface RouteFuzz<T> {
  /** As documented: `POST /v1/topics/{topic}/records`. */
  readonly route: string;
  readonly fn: FunctionName;
  readonly input: fc.Arbitrary<T>;
  /** Builds the request; fixtures that change (a member replaced) are looked up here. */
  readonly request: (input: T) => FuzzRequest;
  /** The raw event instead of one built from `request` (malformed events). */
  readonly event?: (input: T) => unknown;
  /** What the route could change; rejected requests must leave it equal. Without it, a rejected
   * request must not write to storage at all. */
  readonly state?: () => Promise<unknown>;
  /** Holds a rejected request's state to the one before (default: equal). */
  readonly unchanged?: (after: unknown, before: unknown, reason: string) => void;
  /** Before each case: keeps fixtures alive; true when it changed them. */
  readonly refresh?: () => Promise<boolean>;
  /** After a success: puts fixtures back (leave a joined member, recreate a deleted topic). */
  readonly accepted?: (input: T, result: ApiGatewayResult) => Promise<void>;
}

export interface RouteStats {
  route: string;
  cases: number;
  statuses: Map<number, number>;
  /** Error kinds/codes of the rejected cases. */
  reasons: Map<string, number>;
  /** Rejected without a single storage request. */
  beforeStorage: number;
  /** Rejected cases whose state was read again and compared. */
  compared: number;
  ms: number;
}

/** Counts the storage requests of the fuzzed handlers, and which of them changed something. */
export class StorageTracker {
  calls = 0;
  writes = 0;

  /** Every command that is not a read, and succeeded, may have changed something. */
  private static readonly READS = new Set([
    "GetItemCommand",
    "QueryCommand",
    "ScanCommand",
    "BatchGetItemCommand",
    "TransactGetItemsCommand",
    "GetObjectCommand",
    "HeadObjectCommand",
    "ListObjectsV2Command",
  ]);

  watch(client: DynamoDBClient | S3Client): void {
    (client as DynamoDBClient).middlewareStack.add(
      (next, context) => async (args) => {
        this.calls++;
        const out = await next(args);
        if (!StorageTracker.READS.has(String(context.commandName))) this.writes++;
        return out;
      },
      { step: "initialize", name: "fuzzStorageTracker" },
    );
  }
}

const spec = parse(readFileSync(new URL("../../docs/openapi.yaml", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: unknown }> }>>;
};
const ajv = new Ajv2020({ strict: false, validateFormats: false, validateSchema: false, allErrors: true });
ajv.addSchema(spec, "openapi");
const validators = new Map<string, ValidateFunction | null>();
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

const errorBody = ajv.compile({ $ref: "openapi#/components/schemas/ErrorBody" });

/** The JSON schema docs/openapi.yaml gives this answer (null: no JSON body documented). Requests
 * that match no route ("(no route)", "(malformed event)") may only be refused. */
function documented(route: string, status: number): ValidateFunction | null {
  const key = `${route} ${status}`;
  if (!validators.has(key)) {
    const [method = "", template = ""] = route.split(" ");
    const responses = spec.paths[template]?.[method.toLowerCase()]?.responses;
    if (route.startsWith("(")) {
      expect(status, `${route} answered ${status}`).toBeGreaterThanOrEqual(400);
      return errorBody;
    }
    expect(responses, `${route} is documented`).toBeDefined();
    const name = responses?.[String(status)] !== undefined ? String(status) : "default";
    let at = pointer("paths", template, method.toLowerCase(), "responses", name);
    let response = responses?.[name];
    expect(response, `${status} of ${route} is documented`).toBeDefined();
    if (response?.$ref) {
      at = response.$ref.slice(2);
      response = at.split("/").reduce((o: any, k) => o[k.replaceAll("~1", "/").replaceAll("~0", "~")], spec);
    }
    const json = (response?.content as Record<string, unknown> | undefined)?.["application/json"];
    validators.set(key, json ? ajv.compile({ $ref: `openapi#/${at}/content/application~1json/schema` }) : null);
  }
  return validators.get(key) ?? null;
}

/** The contract every answer keeps; returns the error's kind/code for rejected requests. */
export function checkAnswer(route: string, r: ApiGatewayResult): string | undefined {
  const what = `${route} answered ${r.statusCode}: ${r.body.slice(0, 300)}`;
  expect(r.statusCode >= 200 && r.statusCode < 500 && !(r.statusCode >= 300 && r.statusCode < 400), what).toBe(true);
  const validate = documented(route, r.statusCode);
  const json = r.headers["content-type"] === "application/json";
  if (validate && json) {
    const body = JSON.parse(r.body) as unknown;
    expect(validate(body), `${what}\n${JSON.stringify(validate.errors)}`).toBe(true);
  }
  if (r.statusCode < 400) return undefined;
  expect(json, what).toBe(true);
  const { error } = JSON.parse(r.body) as { error: { kind: unknown; code?: string; retriable: unknown } };
  expect(isErrorKind(error.kind), what).toBe(true);
  const kind = error.kind as SeglogError["kind"];
  expect(httpStatusOf(new SeglogError(kind, "", error.code === undefined ? {} : { code: error.code })), what).toBe(r.statusCode);
  if (kind === "Throttled") expect(r.headers["retry-after"], what).toMatch(/^[1-9]\d*$/);
  return error.code === undefined ? kind : `${kind}/${error.code}`;
}

export function toEvent(req: FuzzRequest): unknown {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query[k] = v;
  const init = {
    ...(req.body === undefined ? {} : { body: req.body }),
    ...(req.headers === undefined ? {} : { headers: req.headers }),
    ...(Object.keys(query).length === 0 ? {} : { query }),
  };
  return req.rest ? v1Event(req.method, req.path, init) : v2Event(req.method, req.path, init);
}

/** The route an event reaches, as docs/openapi.yaml names it (a fuzzed path may reach another). */
function servedBy(event: unknown): string | undefined {
  try {
    const req = parseApiGatewayEvent(event);
    const match = matchRoute(routes, req.method, req.path);
    return match && `${match.route.method} ${match.route.path}`;
  } catch {
    return undefined;
  }
}

/** Every this-many rejected cases that wrote nothing, the state is compared anyway. */
const SAMPLE_EVERY = 25;

/** Runs `RUNS` cases of one route and returns what happened. */
export async function fuzzRoute<T>(invoke: Invoke, storage: StorageTracker, route: RouteFuzz<T>, runs = RUNS): Promise<RouteStats> {
  const stats: RouteStats = { route: route.route, cases: 0, statuses: new Map(), reasons: new Map(), beforeStorage: 0, compared: 0, ms: 0 };
  const started = performance.now();
  let expected = await route.state?.();
  let unchecked = 0;
  await fc.assert(
    fc.asyncProperty(route.input, async (input) => {
      if (await route.refresh?.()) expected = await route.state?.();
      const event = route.event ? route.event(input) : toEvent(route.request(input));
      const { calls, writes } = storage;
      let result: ApiGatewayResult;
      try {
        result = await invoke(route.fn, event);
      } catch (e) {
        throw new Error(`${route.route}: the handler threw instead of answering: ${(e as Error).stack ?? String(e)}`);
      }
      stats.cases++;
      stats.statuses.set(result.statusCode, (stats.statuses.get(result.statusCode) ?? 0) + 1);
      const reason = checkAnswer(servedBy(event) ?? route.route, result);
      if (reason === undefined) {
        await route.accepted?.(input, result);
        expected = await route.state?.();
        return;
      }
      stats.reasons.set(reason, (stats.reasons.get(reason) ?? 0) + 1);
      if (storage.calls === calls) stats.beforeStorage++;
      if (!route.state) {
        expect(storage.writes - writes, `${route.route} rejected (${reason}) but wrote to storage`).toBe(0);
        return;
      }
      if (storage.writes === writes && ++unchecked % SAMPLE_EVERY !== 0) return;
      stats.compared++;
      const after = await route.state();
      if (route.unchanged) route.unchanged(after, expected, reason);
      else expect(after, `${route.route} rejected (${reason}) but changed the log`).toEqual(expected);
      expected = after;
    }),
    { numRuns: runs, seed: SEED, endOnFailure: true },
  );
  if (route.state) {
    stats.compared++;
    expect(await route.state(), `${route.route}: state after the run`).toEqual(expected);
  }
  stats.ms = performance.now() - started;
  return stats;
}

/** One line per route: cases, statuses, the most common rejection reasons. */
export function summary(title: string, all: readonly RouteStats[]): string {
  const rows = all.map((s) => {
    const statuses = [...s.statuses].sort(([a], [b]) => a - b).map(([k, n]) => `${k}:${n}`).join(" ");
    const fivexx = [...s.statuses].filter(([k]) => k >= 500).reduce((n, [, c]) => n + c, 0);
    const reasons = [...s.reasons].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k}:${n}`).join(" ");
    return `| ${s.route} | ${s.cases} | ${statuses} | ${fivexx} | ${s.beforeStorage} | ${s.compared} | ${(s.ms / 1000).toFixed(1)} | ${reasons} |`;
  });
  const total = all.reduce((n, s) => n + s.cases, 0);
  const ms = all.reduce((n, s) => n + s.ms, 0);
  return [
    `${title}: ${total} cases, ${(ms / 1000).toFixed(1)} s, seed ${SEED} (SEGLOG_FUZZ_SEED)`,
    "| route | cases | statuses | 5xx | rejected before storage | state compared | s | top rejections |",
    "|---|---:|---|---:|---:|---:|---:|---|",
    ...rows,
  ].join("\n");
}
