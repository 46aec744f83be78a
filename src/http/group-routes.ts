/**
 * Consumer-group routes (DESIGN §6, docs/consumer-groups.md): membership, heartbeats, fenced
 * commits, describe, list and reset. Offsets are JSON numbers on the wire (safe integers) and
 * bigint inside; names and ids are checked by the service (`src/groups/validate.ts`).
 */
import { invalid } from "../core/errors.ts";
import type {
  AssignedPartition,
  GroupDescription,
  GroupService,
  OffsetToCommit,
  ResetTarget,
} from "../groups/service.ts";
import type { ReleasedLease } from "../core/groups/plan.ts";
import type { HttpResponse } from "./event.ts";
import { isObject, jsonBody, onlyKeys, optionalInt, type Json, type JsonObject } from "./json.ts";
import type { Route } from "./router.ts";

export interface GroupContext {
  readonly groups: GroupService;
}

const param = (params: Readonly<Record<string, string>>, name: string): string => params[name] ?? "";

export const groupRoutes: Route<GroupContext>[] = [
  {
    method: "POST",
    path: "/v1/groups/{group}/members",
    fn: "groups",
    handle: async (req, params, { groups }) => {
      const body = jsonBody(req);
      onlyKeys(body, ["topics", "sessionTimeoutMs", "memberId", "joinId"], "a join body");
      // Checked by the service, which knows the range it allows (1 s to 5 min by default).
      const sessionTimeoutMs = body["sessionTimeoutMs"] ?? undefined;
      const memberId = body["memberId"];
      if (memberId !== undefined && typeof memberId !== "string") throw invalid("memberId must be a string");
      const joinId = body["joinId"];
      if (joinId !== undefined && typeof joinId !== "string") throw invalid("joinId must be a string");
      const joined = await groups.join(param(params, "group"), {
        topics: stringList(body["topics"], "topics"),
        ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: sessionTimeoutMs as number }),
        ...(memberId === undefined ? {} : { memberId }),
        ...(joinId === undefined ? {} : { joinId }),
      });
      return { status: 200, body: { ...joined, assignment: joined.assignment.map(assignedView) } };
    },
  },
  {
    method: "POST",
    path: "/v1/groups/{group}/members/{memberId}/heartbeat",
    fn: "groups",
    handle: async (req, params, { groups }) => {
      const body = req.body.byteLength === 0 ? {} : jsonBody(req);
      onlyKeys(body, ["topics", "released"], "a heartbeat body");
      const released = body["released"];
      const answer = await groups.heartbeat(param(params, "group"), param(params, "memberId"), {
        ...(body["topics"] === undefined ? {} : { topics: stringList(body["topics"], "topics") }),
        ...(released === undefined ? {} : { released: releasedList(released) }),
      });
      return { status: 200, body: { ...answer, assignment: answer.assignment.map(assignedView) } };
    },
  },
  {
    method: "DELETE",
    path: "/v1/groups/{group}/members/{memberId}",
    fn: "groups",
    handle: async (_req, params, { groups }) => {
      await groups.leave(param(params, "group"), param(params, "memberId"));
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: "/v1/groups/{group}/commits",
    fn: "groups",
    handle: async (req, params, { groups }) => {
      const body = jsonBody(req);
      onlyKeys(body, ["memberId", "offsets", "sequence"], "a commit body");
      const memberId = body["memberId"];
      if (typeof memberId !== "string") throw invalid("memberId must be a string");
      const offsets = body["offsets"];
      if (!Array.isArray(offsets) || offsets.length === 0) throw invalid("offsets must be a non-empty array");
      const sequence = optionalInt(body["sequence"], "a commit body.sequence", 1);
      const result = await groups.commit(param(params, "group"), {
        memberId,
        offsets: offsets.map(offsetToCommit),
        ...(sequence === undefined ? {} : { sequence }),
      });
      const partitions = result.partitions.map((p) => ({ ...p, offset: toWire(p.offset) }));
      return withPartialFailure(partitions);
    },
  },
  {
    method: "GET",
    path: "/v1/groups",
    fn: "groups",
    handle: async (_req, _p, { groups }) => ({ status: 200, body: { groups: await groups.list() } }),
  },
  {
    method: "GET",
    path: "/v1/groups/{group}",
    fn: "groups",
    handle: async (_req, params, { groups }) => ({
      status: 200,
      body: describeView(await groups.describe(param(params, "group"))),
    }),
  },
  {
    method: "POST",
    path: "/v1/groups/{group}/reset",
    fn: "groups",
    handle: async (req, params, { groups }) => {
      const body = jsonBody(req);
      onlyKeys(body, ["topic", "to", "dryRun"], "a reset body");
      const topic = body["topic"];
      if (typeof topic !== "string") throw invalid("topic must be a string");
      const dryRun = body["dryRun"];
      if (dryRun !== undefined && typeof dryRun !== "boolean") throw invalid("dryRun must be a boolean");
      const result = await groups.resetOffsets(param(params, "group"), {
        topic,
        to: resetTarget(body["to"]),
        ...(dryRun === undefined ? {} : { dryRun }),
      });
      const partitions = result.partitions.map((p) => ({
        ...p,
        previousOffset: p.previousOffset === null ? null : toWire(p.previousOffset),
        offset: toWire(p.offset),
      }));
      const answer = withPartialFailure(partitions);
      return { ...answer, body: { topic: result.topic, dryRun: result.dryRun, ...(answer.body as object) } };
    },
  },
];

/** 200 when every partition succeeded; 207 with the first error beside the per-partition results otherwise. */
function withPartialFailure<P extends { error: unknown }>(partitions: P[]): HttpResponse {
  const failed = partitions.find((p) => p.error !== null);
  if (failed === undefined) return { status: 200, body: { partitions } };
  return { status: 207, body: { error: failed.error, partitions } };
}

function toWire(offset: bigint): number {
  return Number(offset);
}

function wireOffset(v: Json | undefined, name: string): bigint {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`${name} must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return BigInt(v);
}

function stringList(v: Json | undefined, name: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw invalid(`${name} must be an array of strings`);
  return v as string[];
}

function requiredInt(obj: JsonObject, key: string, where: string, min: number): number {
  const n = optionalInt(obj[key], `${where}.${key}`, min);
  if (n === undefined) throw invalid(`${where}.${key} is required`);
  return n;
}

function requiredString(obj: JsonObject, key: string, where: string): string {
  const s = obj[key];
  if (typeof s !== "string") throw invalid(`${where}.${key} must be a string`);
  return s;
}

function releasedList(v: Json): ReleasedLease[] {
  if (!Array.isArray(v)) throw invalid("released must be an array of {topic, partition, epoch}");
  return v.map((r, i) => {
    const where = `released[${i}]`;
    if (!isObject(r)) throw invalid(`${where} must be an object`);
    onlyKeys(r, ["topic", "partition", "epoch"], where);
    return {
      topic: requiredString(r, "topic", where),
      partition: requiredInt(r, "partition", where, 0),
      epoch: requiredInt(r, "epoch", where, 1),
    };
  });
}

function offsetToCommit(o: Json, i: number): OffsetToCommit {
  const where = `offsets[${i}]`;
  if (!isObject(o)) throw invalid(`${where} must be an object`);
  onlyKeys(o, ["topic", "partition", "epoch", "offset", "metadata", "topicId"], where);
  const metadata = o["metadata"];
  if (metadata !== undefined && metadata !== null && typeof metadata !== "string") {
    throw invalid(`${where}.metadata must be a string or null`);
  }
  const topicId = o["topicId"];
  if (topicId !== undefined && (typeof topicId !== "string" || !/^[0-9a-f]{32}$/.test(topicId))) {
    throw invalid(`${where}.topicId must be a topic's id (32 hex digits), not ${JSON.stringify(topicId)}`);
  }
  return {
    topic: requiredString(o, "topic", where),
    partition: requiredInt(o, "partition", where, 0),
    epoch: requiredInt(o, "epoch", where, 1),
    offset: wireOffset(o["offset"], `${where}.offset`),
    ...(metadata === undefined ? {} : { metadata }),
    ...(topicId === undefined ? {} : { topicId }),
  };
}

/** `"earliest"`, `"latest"`, `{timestamp: ms}` or `{offset: n}`. */
function resetTarget(v: Json | undefined): ResetTarget {
  if (v === "earliest") return { earliest: true };
  if (v === "latest") return { latest: true };
  if (isObject(v) && Object.keys(v).length === 1) {
    if ("timestamp" in v) return { timestamp: requiredInt(v, "timestamp", "to", 0) };
    if ("offset" in v) return { offset: wireOffset(v["offset"], "to.offset") };
  }
  throw invalid('to must be "earliest", "latest", {"timestamp": epoch ms} or {"offset": n}');
}

function assignedView(a: AssignedPartition) {
  return { ...a, committedOffset: a.committedOffset === null ? null : toWire(a.committedOffset) };
}

function describeView(d: GroupDescription) {
  return {
    ...d,
    partitions: d.partitions.map((p) => ({
      ...p,
      committedOffset: p.committedOffset === null ? null : toWire(p.committedOffset),
      logEndOffset: p.logEndOffset === null ? null : toWire(p.logEndOffset),
      lag: p.lag === null ? null : toWire(p.lag),
    })),
  };
}
