import { UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { partitionPk } from "../../src/core/keys.ts";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService, type GroupServiceOptions } from "../../src/groups/service.ts";
import { routes, type AppContext } from "../../src/http/app.ts";
import type { ApiGatewayResult } from "../../src/http/event.ts";
import type { LogContext } from "../../src/http/log-routes.ts";
import { lambdaHandler, type FunctionName } from "../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../src/local/server.ts";
import { Log } from "../../src/log/log.ts";
import type { LogOptions } from "../../src/log/options.ts";
import { rangeHeader, type SegmentsAnswer } from "../../src/core/segment-locations.ts";
import type { FetchRequest } from "../../src/log/read.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { testClients, testEnv } from "./stack.ts";

/** A Log engine on the run's local stack, with its own SDK clients (so tests can add middleware). */
export function testLog(options: Partial<LogOptions> = {}): { log: Log; dynamo: DynamoDBClient; s3: S3Client } {
  const { dynamo, s3 } = testClients();
  const env = testEnv();
  const log = new Log({ dynamo, s3, bucket: env["SEGLOG_BUCKET"] ?? "seglog", table: env["SEGLOG_TABLE"] ?? "seglog" }, options);
  return { log, dynamo, s3 };
}

/** Moves a producer's next sequence on a partition, as if it had sent that many records there:
 * how a test reaches the sequences' wrap past 2^31 − 1 without sending 2^31 records. */
export async function setNextSequence(dynamo: DynamoDBClient, topicId: string, partition: number, producerId: number, next: number): Promise<void> {
  await dynamo.send(
    new UpdateItemCommand({
      TableName: testEnv()["SEGLOG_TABLE"] ?? "seglog",
      Key: { pk: { S: partitionPk(topicId, partition) }, sk: { S: `PR#${producerId}` } },
      UpdateExpression: "SET #next = :n",
      ConditionExpression: "attribute_exists(sk)",
      ExpressionAttributeNames: { "#next": "next" },
      ExpressionAttributeValues: { ":n": { N: String(next) } },
    }),
  );
}

/** Puts a transactional id, and its producer id's registration, at the given epoch: as if it
 * had been initialised that many times. */
export async function setTransactionalEpoch(dynamo: DynamoDBClient, transactionalId: string, producerId: number, epoch: number): Promise<void> {
  for (const sk of [`T#${transactionalId}`, `ID#${producerId}`]) {
    await dynamo.send(
      new UpdateItemCommand({
        TableName: testEnv()["SEGLOG_TABLE"] ?? "seglog",
        Key: { pk: { S: "PRODUCER" }, sk: { S: sk } },
        UpdateExpression: "SET epoch = :e",
        ConditionExpression: "attribute_exists(sk)",
        ExpressionAttributeValues: { ":e": { N: String(epoch) } },
      }),
    );
  }
}

/** A fetch read as a consumer reading from S3 reads it: the segments `log.locate` names, each
 * GET by its presigned URL (with its byte range). */
export async function readLocated(log: Log, topic: string, partition: number, request: FetchRequest): Promise<SegmentsAnswer & { chunks: Uint8Array[] }> {
  const located = await log.locate(topic, partition, request);
  const chunks = await Promise.all(
    located.segments.map(async (s) => {
      const res = await fetch(s.url, s.range ? { headers: { range: rangeHeader(s.range) } } : {});
      if (!res.ok) throw new Error(`GET ${s.url}: ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }),
  );
  return { ...located, chunks };
}

/** Counts SDK commands by name, from the client's middleware stack (what AWS would bill). */
export function countCalls(client: DynamoDBClient | S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? "unknown");
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  return counts;
}

export interface Invoke {
  (fn: FunctionName, event: unknown): Promise<ApiGatewayResult>;
}

/** A GroupService over the run's table and `log`'s topics, as `contextFromEnv` builds it. */
export function testGroups(log: Log, options: Partial<GroupServiceOptions> = {}): GroupService {
  groupStore ??= new DynamoGroupStore({ client: testClients().dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" });
  return new GroupService({ store: groupStore, catalog: new LogTopicCatalog(log), ...options });
}
let groupStore: DynamoGroupStore | undefined;

/** The Lambda handlers as API Gateway would call them, over a test context (groups over `log` if not given). */
export function handlersFor(ctx: LogContext & Partial<AppContext>): Invoke {
  const full: AppContext = { ...ctx, groups: ctx.groups ?? testGroups(ctx.log) };
  return (fn, event) => lambdaHandler(routes, fn, () => full)(event);
}

/** An HTTP API (payload 2.0) event. */
export function v2Event(method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string>; query?: Record<string, string> } = {}) {
  const binary = init.body instanceof Uint8Array;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: new URLSearchParams(init.query ?? {}).toString(),
    headers: init.headers ?? {},
    ...(init.query ? { queryStringParameters: init.query } : {}),
    requestContext: { http: { method, path }, stage: "$default" },
    ...(init.body === undefined
      ? {}
      : { body: binary ? Buffer.from(init.body as Uint8Array).toString("base64") : (init.body as string), isBase64Encoded: binary }),
  };
}

/** A REST API (payload 1.0) event. */
export function v1Event(method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string>; query?: Record<string, string> } = {}) {
  const binary = init.body instanceof Uint8Array;
  return {
    resource: "/{proxy+}",
    path,
    httpMethod: method,
    headers: init.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: init.query ?? null,
    pathParameters: null,
    requestContext: { stage: "prod", httpMethod: method, path: `/prod${path}` },
    body: init.body === undefined ? null : binary ? Buffer.from(init.body as Uint8Array).toString("base64") : init.body,
    isBase64Encoded: binary,
  };
}

export const jsonOf = (r: ApiGatewayResult): any => JSON.parse(r.body);

/** A local HTTP API on a free port whose every function runs the given test context's handlers. */
export async function startTestApi(ctx: Parameters<typeof handlersFor>[0]): Promise<LocalApi> {
  const invoke = handlersFor(ctx);
  const h = (fn: FunctionName) => (e: unknown) => invoke(fn, e);
  return startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
}
