import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { encodeRecordBatch } from "../../../src/core/codec/record-batch.ts";
import { buildFrames } from "../../../src/core/frames.ts";
import { routes } from "../../../src/http/app.ts";
import type { ApiGatewayResult } from "../../../src/http/event.ts";
import { SEGMENTS_MEDIA_TYPE } from "../../../src/core/segment-locations.ts";
import type { FunctionName } from "../../../src/http/router.ts";
import { handlersFor, testLog, v2Event } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

const spec = parse(readFileSync(new URL("../../../docs/openapi.yaml", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};
const ajv = new Ajv2020({ strict: false, validateFormats: false, validateSchema: false, allErrors: true });
ajv.addSchema(spec, "openapi");
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
const METHODS = ["get", "post", "put", "patch", "delete"];

const invoke = handlersFor({ log: testLog().log });

/** Calls a handler and checks the answer against the documented status and JSON schema. */
async function call(fn: FunctionName, path: string, template: string, event: ReturnType<typeof v2Event>): Promise<ApiGatewayResult> {
  const result = await invoke(fn, event);
  const method = event.requestContext.http.method.toLowerCase();
  const op = spec.paths[template]?.[method];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const status = String(result.statusCode);
  const documented = op?.responses[status] !== undefined ? status : "default";
  expect(op?.responses[documented], `${status} of ${method} ${template}`).toBeDefined();
  const type = result.headers["content-type"] ?? "";
  if (type === "application/json" || type === SEGMENTS_MEDIA_TYPE) {
    let response = op?.responses[documented] as { $ref?: string };
    let at = pointer("paths", template, method, "responses", documented);
    if (response.$ref) {
      at = response.$ref.slice(2);
      response = at.split("/").reduce((o: any, k) => o[k.replaceAll("~1", "/").replaceAll("~0", "~")], spec);
    }
    const validate = ajv.compile({ $ref: `openapi#/${at}/content/${type.replaceAll("/", "~1")}/schema` });
    const ok = validate(JSON.parse(result.body));
    expect(ok, `${status} of ${method} ${template}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }
  return result;
}

describe("docs/openapi.yaml", () => {
  it("documents exactly the routes the handlers serve", () => {
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = routes.map((r) => `${r.method} ${r.path.replace("{partition}", "{partition}")}`);
    expect([...served].sort()).toEqual([...documented].sort());
  });

  describe("the handlers' answers match it", () => {
    const topic = uniqueName("spec");
    const t = `/v1/topics/${topic}`;
    beforeAll(async () => {
      const r = await call("admin", "/v1/topics", "/v1/topics", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: topic, partitions: 2 }) }));
      expect(r.statusCode).toBe(201);
    });

    it("topic routes", async () => {
      await call("admin", "/v1/topics", "/v1/topics", v2Event("GET", "/v1/topics"));
      await call("admin", t, "/v1/topics/{topic}", v2Event("GET", t));
      await call("admin", t, "/v1/topics/{topic}", v2Event("GET", t, { query: { partitionStates: "false" } }));
      await call("admin", t, "/v1/topics/{topic}", v2Event("PATCH", t, { body: JSON.stringify({ partitions: 3 }) }));
      await call("admin", t, "/v1/topics/{topic}", v2Event("GET", `/v1/topics/${uniqueName("none")}`));
      const other = uniqueName("del");
      await call("admin", "/v1/topics", "/v1/topics", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: other }) }));
      const deleted = await call("admin", t, "/v1/topics/{topic}", v2Event("DELETE", `/v1/topics/${other}`));
      expect(deleted.statusCode).toBe(204);
    });

    it("produce, fetch and offsets routes", async () => {
      const rec = "/v1/topics/{topic}/records";
      await call("produce", rec, rec, v2Event("POST", `${t}/records`, { body: JSON.stringify({ records: [{ key: "k", value: "v", headers: { a: "b" } }] }) }));
      await call("produce", rec, rec, v2Event("POST", `${t}/records`, {
        body: buildFrames([{ partition: 0, bytes: encodeRecordBatch({ records: [{ key: null, value: Buffer.from("b") }] }) }]),
        headers: { "content-type": "application/octet-stream" },
      }));
      await call("produce", rec, rec, v2Event("POST", `${t}/records`, { body: "{" }));
      const fetchPath = "/v1/topics/{topic}/partitions/{partition}/records";
      await call("fetch", fetchPath, fetchPath, v2Event("GET", `${t}/partitions/0/records`, { query: { offset: "0" } }));
      await call("fetch", fetchPath, fetchPath, v2Event("GET", `${t}/partitions/0/records`, { query: { offset: "99" } }));
      const located = await call("fetch", fetchPath, fetchPath, v2Event("GET", `${t}/partitions/0/records`, { query: { offset: "0" }, headers: { accept: SEGMENTS_MEDIA_TYPE } }));
      expect(located.headers["content-type"]).toBe(SEGMENTS_MEDIA_TYPE);
      expect((JSON.parse(located.body) as { segments: unknown[] }).segments.length).toBeGreaterThan(0);
      const several = await call("fetch", rec, rec, v2Event("GET", `${t}/records`, { query: { partitions: "0:0,1:5,7:0", maxWaitMs: "0" } }));
      const answers = (JSON.parse(several.body) as { partitions: { partition: number; segments?: unknown[]; error?: { kind: string } }[] }).partitions;
      expect(answers.map((a) => [a.partition, a.error?.kind])).toEqual([
        [0, undefined],
        [1, "OffsetOutOfRange"],
        [7, "NotFound"],
      ]);
      expect(answers[0]?.segments?.length).toBeGreaterThan(0);
      await call("fetch", rec, rec, v2Event("GET", `${t}/records`, { query: { partitions: "0:0,0:1" } }));
      // One request's batches for partitions 0 and 1 share an object: the fetch of both names one GET of it.
      const both = await call("produce", rec, rec, v2Event("POST", `${t}/records`, {
        body: buildFrames([0, 1].map((partition) => ({ partition, bytes: encodeRecordBatch({ records: [{ key: null, value: Buffer.from("one request") }] }) }))),
        headers: { "content-type": "application/octet-stream" },
      }));
      const [at0, at1] = (JSON.parse(both.body) as { offsets: { baseOffset: number }[] }).offsets;
      const sharing = await call("fetch", rec, rec, v2Event("GET", `${t}/records`, { query: { partitions: `0:${at0?.baseOffset},1:${at1?.baseOffset}`, maxWaitMs: "0" } }));
      const { objects, partitions } = JSON.parse(sharing.body) as { objects?: unknown[]; partitions: { segments: { object?: number }[] }[] };
      expect(objects).toHaveLength(1);
      expect(partitions.map((a) => a.segments.map((x) => x.object))).toEqual([[0], [0]]);
      await call("produce", "/v1/producers", "/v1/producers", v2Event("POST", "/v1/producers", { body: JSON.stringify({ transactionalId: "spec" }) }));
      await call("produce", "/v1/producers", "/v1/producers", v2Event("POST", "/v1/producers", { body: JSON.stringify({ transactionalId: 5 }) }));
      const offsets = "/v1/topics/{topic}/partitions/{partition}/offsets";
      await call("fetch", offsets, offsets, v2Event("GET", `${t}/partitions/0/offsets`, { query: { at: "earliest" } }));
      await call("fetch", offsets, offsets, v2Event("GET", `${t}/partitions/0/offsets`, { query: { at: "1000" } }));
    });

    it("group routes", async () => {
      const group = uniqueName("spec-g");
      const g = `/v1/groups/${group}`;
      const json = (body: unknown) => ({ body: JSON.stringify(body) });
      await call("groups", g, "/v1/groups/{group}", v2Event("GET", g));
      const members = "/v1/groups/{group}/members";
      const joined = await call("groups", members, members, v2Event("POST", `${g}/members`, json({ topics: [topic], sessionTimeoutMs: 10_000 })));
      await call("groups", members, members, v2Event("POST", `${g}/members`, json({ topics: ["#"] })));
      const { memberId, assignment } = JSON.parse(joined.body) as { memberId: string; assignment: { partition: number; epoch: number }[] };
      expect(assignment.length).toBeGreaterThan(0);
      const lease = assignment[0] as { partition: number; epoch: number };

      const heartbeat = "/v1/groups/{group}/members/{memberId}/heartbeat";
      const hb = await call("groups", heartbeat, heartbeat, v2Event("POST", `${g}/members/${memberId}/heartbeat`, json({ released: [] })));
      expect(hb.statusCode).toBe(200);
      await call("groups", heartbeat, heartbeat, v2Event("POST", `${g}/members/unknown-member/heartbeat`));

      const commits = "/v1/groups/{group}/commits";
      const offset = (epoch: number, partition = lease.partition) => ({ topic, partition, epoch, offset: 1, metadata: "m" });
      expect((await call("groups", commits, commits, v2Event("POST", `${g}/commits`, json({ memberId, offsets: [offset(lease.epoch)] })))).statusCode).toBe(200);
      const other = assignment.find((a) => a.partition !== lease.partition);
      const partial = await call("groups", commits, commits, v2Event("POST", `${g}/commits`, json({ memberId, offsets: [offset(lease.epoch), offset((other?.epoch ?? 1) + 5, other?.partition ?? 99)] })));
      expect(partial.statusCode).toBe(207);
      const zombie = await call("groups", commits, commits, v2Event("POST", `${g}/commits`, json({ memberId, offsets: [offset(lease.epoch + 5)] })));
      expect(zombie.statusCode).toBe(409);
      await call("groups", commits, commits, v2Event("POST", `${g}/commits`, json({ memberId, offsets: [{ ...offset(lease.epoch), offset: 2 ** 53 }] })));

      const described = await call("groups", g, "/v1/groups/{group}", v2Event("GET", g));
      expect(JSON.parse(described.body)).toMatchObject({ group, state: "Stable" });
      await call("groups", "/v1/groups", "/v1/groups", v2Event("GET", "/v1/groups"));

      const reset = "/v1/groups/{group}/reset";
      expect((await call("groups", reset, reset, v2Event("POST", `${g}/reset`, json({ topic, to: "earliest" })))).statusCode).toBe(409);
      const member = "/v1/groups/{group}/members/{memberId}";
      expect((await call("groups", member, member, v2Event("DELETE", `${g}/members/${memberId}`))).statusCode).toBe(204);
      await call("groups", reset, reset, v2Event("POST", `${g}/reset`, json({ topic, to: { offset: 1 }, dryRun: true })));
      await call("groups", reset, reset, v2Event("POST", `${g}/reset`, json({ topic, to: { timestamp: 0 } })));
      await call("groups", reset, reset, v2Event("POST", `${g}/reset`, json({ topic, to: "latest" })));
      await call("groups", reset, reset, v2Event("POST", `${g}/reset`, json({ topic, to: "yesterday" })));
    });
  });
});
