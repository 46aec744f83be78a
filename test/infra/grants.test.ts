import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, GroupConsumer, Producer } from "../../src/client/index.ts";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService } from "../../src/groups/service.ts";
import { maintain, routes } from "../../src/http/app.ts";
import type { ApiGatewayResult } from "../../src/http/event.ts";
import type { FunctionName } from "../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../src/local/server.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { countCalls, handlersFor, testLog } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";
import { asArray, logicalId, policyStatements, synthStack } from "./synth.ts";

/**
 * Local stores grant everything, so a function whose role lacks an action its code calls works
 * in every other test and fails only on AWS (AccessDenied). Here each function runs with SDK
 * clients of its own that record every command, through a walk of every route as a user would
 * make it, and each command must be granted to that function's role in the synthesized stack.
 */

/** The IAM action each SDK command needs. */
const ACTION: Readonly<Record<string, string>> = {
  GetItemCommand: "dynamodb:GetItem",
  BatchGetItemCommand: "dynamodb:BatchGetItem",
  PutItemCommand: "dynamodb:PutItem",
  UpdateItemCommand: "dynamodb:UpdateItem",
  DeleteItemCommand: "dynamodb:DeleteItem",
  BatchWriteItemCommand: "dynamodb:BatchWriteItem",
  QueryCommand: "dynamodb:Query",
  PutObjectCommand: "s3:PutObject",
  GetObjectCommand: "s3:GetObject",
  DeleteObjectsCommand: "s3:DeleteObject",
  ListObjectsV2Command: "s3:ListBucket",
};

type Role = FunctionName | "maintenance";
const ROLE_ID: Readonly<Record<Role, string>> = {
  admin: "ApiAdminRole",
  produce: "ApiProduceRole",
  fetch: "ApiFetchRole",
  groups: "ApiGroupsRole",
  maintenance: "MaintenanceRole",
};

/** One function's context, with its calls counted. */
function counted() {
  const ctx = testLog();
  const calls = [countCalls(ctx.dynamo), countCalls(ctx.s3)];
  const groups = new GroupService({
    store: new DynamoGroupStore({ client: ctx.dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" }),
    catalog: new LogTopicCatalog(ctx.log),
  });
  const used = () => calls.flatMap((c) => [...c.keys()]);
  return { ...ctx, groups, invoke: handlersFor({ log: ctx.log, groups }), used };
}

const functions = { admin: counted(), produce: counted(), fetch: counted(), groups: counted() };
let api: LocalApi;

beforeAll(async () => {
  const h = (fn: FunctionName) => (e: unknown): Promise<ApiGatewayResult> => functions[fn].invoke(fn, e);
  api = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
});
afterAll(() => api.close());

describe("every AWS call a function makes is granted to its role", () => {
  it("through a walk of every route and a maintenance run", async () => {
    const url = api.url;
    const admin = new Admin({ url });
    const [topic, gone] = [uniqueName("grants"), uniqueName("grants-gone")];
    await admin.createTopic(topic, { partitions: 3, config: { "segment.bytes": 16 * 1024 } });
    await admin.createTopic(gone, { partitions: 2 });
    await admin.listTopics();
    await admin.alterTopic(topic, { partitions: 4 });
    await admin.describeTopic(topic);

    // Produce: idempotent binary requests over several partitions (shared objects), and JSON.
    const producer = new Producer({ url, lingerMs: 5 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => producer.send(topic, { key: `k${i}`, value: `v${i}` })));
    await producer.send(gone, { value: "x" });
    await producer.close();
    const json = await fetch(`${url}/v1/topics/${topic}/records`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ records: [{ value: "plain", partition: 0 }] }),
    });
    expect(json.status).toBe(200);

    // Fetch: segments read from S3 (several partitions at once), bytes through the API, JSON,
    // offsets by time, and a long poll at the end.
    for (const readFrom of ["storage", "api"] as const) {
      const consumer = new Consumer({ url, readFrom, autoOffsetReset: "earliest", maxWaitMs: 100 });
      await consumer.assignTopic(topic, "earliest");
      let seen = 0;
      for (let i = 0; i < 20 && seen < 41; i++) seen += (await consumer.poll()).length;
      expect(seen).toBe(41);
      await consumer.close();
    }
    expect((await fetch(`${url}/v1/topics/${topic}/partitions/0/records?offset=0&encoding=string`)).status).toBe(200);
    await admin.offsetFor(topic, 0, "earliest");
    await admin.offsetFor(topic, 0, Date.now() - 60_000);
    const hwm = (await admin.offsetFor(topic, 1, "latest")).offset;
    expect((await fetch(`${url}/v1/topics/${topic}/partitions/1/records?offset=${hwm}&maxWaitMs=300`)).status).toBe(200);

    // Groups: join, heartbeat, commit, leave; describe, list, reset to a time (reads a segment).
    const group = uniqueName("grants-g");
    const member = new GroupConsumer({ url, groupId: group, autoOffsetReset: "earliest", autoCommitIntervalMs: 100 });
    member.subscribe([topic, gone]);
    let consumed = 0;
    const running = member.run({
      eachRecord: async () => {
        if (++consumed === 42) void member.close();
      },
    });
    await running;
    expect(await admin.listGroups()).toContain(group);
    await admin.describeGroup(group);
    await admin.resetOffsets(group, { topic, to: { timestamp: Date.now() - 60_000 }, dryRun: false });

    await admin.deleteTopic(gone);

    // Maintenance: merges, retention, orphans and shared objects, the deleted topic's data and
    // the group's leases of it.
    const maintenance = counted();
    const eager = { topics: [topic, gone], orphanMinAgeMs: 0, mergeAfterMs: 0, mergeGraceMs: 0 };
    expect(await maintain(maintenance, eager)).toMatchObject({ failures: 0, topicsDeleted: 1 });
    expect((await admin.describeGroup(group)).partitions.map((p) => p.topic)).not.toContain(gone);
    await admin.alterTopic(topic, { config: { "retention.ms": 0 } });
    expect((await maintain(maintenance, eager)).failures).toBe(0);

    const { template } = synthStack();
    const granted = (role: Role) => {
      const policy = logicalId(template, "AWS::IAM::Policy", ROLE_ID[role]);
      return new Set(policyStatements(template).filter((s) => s.policy === policy).flatMap((s) => asArray(s.statement.Action as string | string[])));
    };
    const used: Record<Role, string[]> = {
      admin: functions.admin.used(),
      produce: functions.produce.used(),
      fetch: functions.fetch.used(),
      groups: functions.groups.used(),
      maintenance: maintenance.used(),
    };
    for (const [role, commands] of Object.entries(used) as [Role, string[]][]) {
      expect(commands.length, `${role} made no AWS call: the walk missed it`).toBeGreaterThan(0);
      const actions = commands.map((c) => ACTION[c] ?? `unmapped ${c}`);
      expect({ role, missing: [...new Set(actions)].filter((a) => !granted(role).has(a)).sort() }).toEqual({ role, missing: [] });
    }
    // Consumers GET segments with URLs the fetch function signs: its role must allow the GET.
    expect(granted("fetch").has("s3:GetObject")).toBe(true);
    // The walk reached the calls that only some roles make.
    expect(used.fetch).toContain("BatchGetItemCommand");
    expect(used.admin).toContain("BatchWriteItemCommand");
    expect(used.groups).toContain("GetObjectCommand");
    expect(used.maintenance).toEqual(expect.arrayContaining(["DeleteObjectsCommand", "ListObjectsV2Command", "BatchWriteItemCommand", "PutObjectCommand", "DeleteItemCommand"]));
  }, 120_000);
});
