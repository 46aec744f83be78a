import { MAX_TIMESTAMP } from "../core/codec/record-batch.ts";
import { invalid, isSeglogError, tooLarge } from "../core/errors.ts";
import { parseFrames } from "../core/frames.ts";
import { MAX_PARTITIONS_PER_FETCH, SEGMENTS_MEDIA_TYPE } from "../core/segment-locations.ts";
import { MAX_PARTITIONS, validateTopicName } from "../core/topic-config.ts";
import { isWellFormed } from "../core/unicode.ts";
import type { Log, OffsetSpec } from "../log/log.ts";
import { decodeStored } from "../log/read.ts";
import type { LogWriter, ProduceRecord, ProduceResult } from "../log/writer.ts";
import type { TopicRecord } from "../storage/registry.ts";
import type { HttpRequest, HttpResponse } from "./event.ts";
import { fromBase64, isObject, jsonBody, onlyKeys, optionalInt, pathInt, queryBoolean, queryInt, wellFormed, type Json } from "./json.ts";
import { errorResponse, type Route } from "./router.ts";

/** The largest body a Lambda function accepts synchronously. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/**
 * Lambda answers with at most 6 MB, counted on its own JSON, which carries the answer's JSON as a
 * string (escaped again): a JSON fetch's records stop at 5 MiB of it, and `nextOffset` is where
 * they stopped. Binary record values as `encoding=string` can take 7 bytes a byte (`\\u0001`).
 */
const MAX_JSON_RECORDS_BYTES = 5 * 1024 * 1024;

export interface LogContext {
  readonly log: Log;
}

/** The produce function's context: the log's write side alone (src/log/writer.ts). */
export interface ProduceContext {
  readonly log: LogWriter;
}

const topicView = (t: TopicRecord) => ({ name: t.name, topicId: t.topicId, partitions: t.partitions, config: t.config });

function topicParam(params: Readonly<Record<string, string>>): string {
  const name = params["topic"] ?? "";
  validateTopicName(name);
  return name;
}

export const adminRoutes: Route<LogContext>[] = [
  {
    method: "GET",
    path: "/v1/topics",
    fn: "admin",
    handle: async (_req, _p, { log }) => ({ status: 200, body: { topics: (await log.listTopics()).map(topicView) } }),
  },
  {
    method: "POST",
    path: "/v1/topics",
    fn: "admin",
    handle: async (req, _p, { log }) => {
      const body = jsonBody(req);
      onlyKeys(body, ["name", "partitions", "config"], "a create-topic body");
      if (typeof body["name"] !== "string") throw invalid("name must be a string");
      const config = body["config"];
      if (config !== undefined && !isObject(config)) throw invalid("config must be an object");
      const { topic, warning } = await log.createTopic({
        name: body["name"],
        partitions: optionalInt(body["partitions"], "partitions", 1, MAX_PARTITIONS) ?? 1,
        ...(config ? { config: config as never } : {}),
      });
      return { status: 201, body: { ...topicView(topic), ...(warning ? { warning } : {}) } };
    },
  },
  {
    method: "GET",
    path: "/v1/topics/{topic}",
    fn: "admin",
    handle: async (req, params, { log }) => {
      // Without the partition states it reads one item, as Kafka's Metadata request: what the
      // SDK's clients ask every 30 s; with them, each partition's head and index.
      if (!queryBoolean(req, "partitionStates", true)) return { status: 200, body: topicView(await log.topic(topicParam(params))) };
      const { topic, partitions } = await log.describeTopic(topicParam(params));
      return { status: 200, body: { ...topicView(topic), partitionStates: partitions } };
    },
  },
  {
    method: "PATCH",
    path: "/v1/topics/{topic}",
    fn: "admin",
    handle: async (req, params, { log }) => {
      const body = jsonBody(req);
      onlyKeys(body, ["partitions", "config"], "an alter-topic body");
      const config = body["config"];
      if (config !== undefined && !isObject(config)) throw invalid("config must be an object");
      const partitions = optionalInt(body["partitions"], "partitions", 1, MAX_PARTITIONS);
      const topic = await log.alterTopic(topicParam(params), {
        ...(partitions === undefined ? {} : { partitions }),
        ...(config ? { config: config as never } : {}),
      });
      return { status: 200, body: topicView(topic) };
    },
  },
  {
    method: "DELETE",
    path: "/v1/topics/{topic}",
    fn: "admin",
    handle: async (_req, params, { log }) => {
      await log.deleteTopic(topicParam(params));
      return { status: 204 };
    },
  },
];

export const produceRoutes: Route<ProduceContext>[] = [
  {
    method: "POST",
    path: "/v1/topics/{topic}/records",
    fn: "produce",
    handle: async (req, params, { log }) => {
      const topic = topicParam(params);
      if (req.body.byteLength > MAX_REQUEST_BYTES) {
        throw tooLarge(`Request body of ${req.body.byteLength} bytes exceeds ${MAX_REQUEST_BYTES}`);
      }
      const results = isBinary(req.headers["content-type"])
        ? await log.produceFrames(topic, parseFrames(req.body))
        : await log.produceRecords(topic, parseProduceBody(req));
      return produceResponse(results);
    },
  },
  {
    method: "POST",
    path: "/v1/producers",
    fn: "produce",
    handle: async (req, _p, { log }) => {
      const body = req.body.byteLength === 0 ? {} : jsonBody(req);
      onlyKeys(body, ["transactionalId"], "an init-producer body");
      const id = body["transactionalId"];
      if (id !== undefined && (typeof id !== "string" || id.length === 0 || id.length > 256)) {
        throw invalid("transactionalId must be a string of 1 to 256 characters");
      }
      // Stored as UTF-8, where every lone surrogate is the same U+FFFD: two such ids would be one.
      if (id !== undefined && !isWellFormed(id)) throw invalid("transactionalId is not well-formed Unicode (a lone surrogate)");
      return { status: 200, body: await log.initProducer(id) };
    },
  },
];

export const fetchRoutes: Route<LogContext>[] = [
  {
    method: "GET",
    path: "/v1/topics/{topic}/records",
    fn: "fetch",
    handle: async (req, params, { log }) => {
      const topic = topicParam(params);
      const wants = partitionsQuery(req.query["partitions"]);
      const maxBytes = queryInt(req, "maxBytes", 1);
      const maxWaitMs = queryInt(req, "maxWaitMs", 0);
      const { partitions, objects } = await log.locateMany(topic, wants, {
        ...(maxBytes === undefined ? {} : { maxBytes }),
        ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
      });
      const body = { partitions: partitions.map((a) => ("error" in a ? { partition: a.partition, ...a.error.toJSON() } : a)) };
      return { status: 200, body: (objects.length === 0 ? body : { ...body, objects }) as unknown as Json };
    },
  },
  {
    method: "GET",
    path: "/v1/topics/{topic}/partitions/{partition}/records",
    fn: "fetch",
    handle: async (req, params, { log }) => fetchRecords(req, params, log),
  },
  {
    method: "GET",
    path: "/v1/topics/{topic}/partitions/{partition}/offsets",
    fn: "fetch",
    handle: async (req, params, { log }) => {
      const at = req.query["at"] ?? "latest";
      let spec: OffsetSpec;
      if (at === "earliest" || at === "latest") spec = at;
      else if (/^\d{1,16}$/.test(at) && Number(at) <= MAX_TIMESTAMP) spec = { timestampMs: Number(at) };
      else throw invalid(`at must be earliest, latest or a timestamp in epoch milliseconds (at most ${MAX_TIMESTAMP}, as a record's)`);
      const result = await log.offsetFor(topicParam(params), pathInt(params["partition"] ?? "", "partition"), spec);
      return { status: 200, body: result };
    },
  },
];

/** The routes of the produce, fetch and admin functions, for the local server and the tests. Each
 * function's entry (`functions/*.ts`) imports its own, so that its bundle holds only their code. */
export const logRoutes: Route<LogContext>[] = /* @__PURE__ */ adminRoutes.concat(produceRoutes, fetchRoutes);

const isBinary = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0]?.trim().toLowerCase() === "application/octet-stream";

type Encoding = "string" | "base64" | "json";

function encodingOf(v: Json | undefined, name: string, allowed: readonly Encoding[]): Encoding {
  if (v === undefined) return "string";
  if (typeof v !== "string" || !allowed.includes(v as Encoding)) throw invalid(`${name} must be one of ${allowed.join(", ")}`);
  return v as Encoding;
}

const MAX_RECORDS_PER_REQUEST = 100_000;

/** `{records:[{key?,value,headers?,partition?,timestamp?}], keyEncoding?, valueEncoding?, headerEncoding?}` */
function parseProduceBody(req: HttpRequest): ProduceRecord[] {
  const body = jsonBody(req);
  onlyKeys(body, ["records", "keyEncoding", "valueEncoding", "headerEncoding"], "a produce body");
  const keyEncoding = encodingOf(body["keyEncoding"], "keyEncoding", ["string", "base64"]);
  const valueEncoding = encodingOf(body["valueEncoding"], "valueEncoding", ["string", "base64", "json"]);
  const headerEncoding = encodingOf(body["headerEncoding"], "headerEncoding", ["string", "base64"]);
  const records = body["records"];
  if (!Array.isArray(records) || records.length === 0) throw invalid("records must be a non-empty array");
  if (records.length > MAX_RECORDS_PER_REQUEST) throw tooLarge(`At most ${MAX_RECORDS_PER_REQUEST} records per request`);
  return records.map((r, i) => {
    const where = `records[${i}]`;
    if (!isObject(r)) throw invalid(`${where} must be an object`);
    onlyKeys(r, ["key", "value", "headers", "partition", "timestamp"], where);
    const partition = optionalInt(r["partition"], `${where}.partition`, 0, 2 ** 31 - 1);
    const timestamp = optionalInt(r["timestamp"], `${where}.timestamp`, 0, MAX_TIMESTAMP);
    return {
      key: bytesOf(r["key"], keyEncoding, `${where}.key`),
      value: bytesOf(r["value"], valueEncoding, `${where}.value`),
      headers: headersOf(r["headers"], headerEncoding, `${where}.headers`),
      ...(partition === undefined ? {} : { partition }),
      ...(timestamp === undefined ? {} : { timestamp }),
    };
  });
}

function bytesOf(v: Json | undefined, encoding: Encoding, where: string): Uint8Array | null {
  if (v === undefined || v === null) return null;
  if (encoding === "json") {
    try {
      return Buffer.from(JSON.stringify(v), "utf8");
    } catch (e) {
      if (e instanceof RangeError) throw invalid(`${where} is nested too deeply to store as JSON`);
      throw e;
    }
  }
  if (typeof v !== "string") throw invalid(`${where} must be a string${where.endsWith(".value") ? " (or set valueEncoding to json)" : ""}`);
  return encoding === "base64" ? fromBase64(v, where) : Buffer.from(wellFormed(v, where), "utf8");
}

function headersOf(v: Json | undefined, encoding: Encoding, where: string): { key: string; value: Uint8Array | null }[] {
  if (v === undefined || v === null) return [];
  // Each header with the name an error gives its value: `headers.h` of an object, `headers[0].value` of an array.
  const pairs: [string, Json, string][] = Array.isArray(v)
    ? v.map((h, i) => {
        if (!isObject(h) || typeof h["key"] !== "string") throw invalid(`${where}[${i}] must be {key, value}`);
        onlyKeys(h, ["key", "value"], `${where}[${i}]`);
        return [h["key"], h["value"] ?? null, `${where}[${i}].value`];
      })
    : isObject(v)
      ? Object.entries(v).map(([key, value]): [string, Json, string] => [key, value, `${where}.${key}`])
      : (() => {
          throw invalid(`${where} must be an object or an array of {key, value}`);
        })();
  return pairs.map(([key, value, name]) => {
    if (value !== null && typeof value !== "string") throw invalid(`${name} must be a string or null`);
    wellFormed(key, `${where} key ${JSON.stringify(key)}`);
    return { key, value: value === null ? null : encoding === "base64" ? fromBase64(value, name) : Buffer.from(wellFormed(value, name), "utf8") };
  });
}

/**
 * 200 when every batch landed. Otherwise the first error's response, with the per-batch results
 * beside it; 207 when some batches landed and others did not (retry only the failed ones).
 */
function produceResponse(results: ProduceResult[]): HttpResponse {
  const offsets = results.map((r) => ("error" in r ? { partition: r.partition, error: r.error.toJSON().error } : r));
  const failed = results.find((r): r is Extract<ProduceResult, { error: unknown }> => "error" in r);
  if (!failed) return { status: 200, body: { offsets } };
  const landed = results.some((r) => !("error" in r));
  const response = errorResponse(failed.error);
  return { ...response, status: landed ? 207 : response.status, body: { ...failed.error.toJSON(), offsets } };
}

/** `partitions=0:120,3:55`: each partition to read and the offset to read it from. */
function partitionsQuery(raw: string | undefined): { partition: number; offset: number }[] {
  if (raw === undefined || raw === "") throw invalid("Query parameter partitions is required: partition:offset pairs, comma-separated");
  const pairs = raw.split(",");
  if (pairs.length > MAX_PARTITIONS_PER_FETCH) throw invalid(`A fetch names at most ${MAX_PARTITIONS_PER_FETCH} partitions, not ${pairs.length}`);
  const wants = pairs.map((pair) => {
    const m = /^(\d{1,10}):(\d{1,20})$/.exec(pair);
    const offset = Number(m?.[2]);
    if (!m) throw invalid(`'${pair}' in partitions is not partition:offset`);
    if (Number(m[1]) > 2 ** 31 - 1) throw invalid(`The partition in '${pair}' is over ${2 ** 31 - 1}`);
    if (!Number.isSafeInteger(offset)) throw invalid(`The offset in '${pair}' is over ${Number.MAX_SAFE_INTEGER}`);
    return { partition: Number(m[1]), offset };
  });
  return wants; // Log.locateMany refuses a partition named twice
}

async function fetchRecords(req: HttpRequest, params: Readonly<Record<string, string>>, log: Log): Promise<HttpResponse> {
  const topic = topicParam(params);
  const partition = pathInt(params["partition"] ?? "", "partition");
  const offset = queryInt(req, "offset", 0);
  if (offset === undefined) throw invalid("Query parameter offset is required");
  const maxBytes = queryInt(req, "maxBytes", 1);
  const maxWaitMs = queryInt(req, "maxWaitMs", 0);
  const request = { offset, ...(maxBytes === undefined ? {} : { maxBytes }), ...(maxWaitMs === undefined ? {} : { maxWaitMs }) };
  // Media types are case-insensitive (RFC 9110); one listed with q=0 is one the client refuses.
  const accepted = (req.headers["accept"] ?? "")
    .toLowerCase()
    .split(",")
    .map((part) => part.split(";").map((x) => x.trim()))
    .filter(([, ...params]) => !params.some((p) => /^q=0(\.0*)?$/.test(p)))
    .map(([type]) => type);
  if (accepted.includes(SEGMENTS_MEDIA_TYPE)) {
    return { status: 200, headers: { "content-type": SEGMENTS_MEDIA_TYPE }, body: await log.locate(topic, partition, request) };
  }
  // Checked before the long poll; the binary answer has no encoding.
  const encoding = accepted.includes("application/octet-stream") ? undefined : encodingOf(req.query["encoding"], "encoding", ["string", "base64", "json"]);
  const result = await log.fetch(topic, partition, request);
  const positions = {
    "seglog-next-offset": String(result.nextOffset),
    "seglog-high-watermark": String(result.highWatermark),
    "seglog-log-start-offset": String(result.logStartOffset),
    "seglog-topic-id": result.topicId,
  };
  if (encoding === undefined) {
    const batches = result.batches.map((b) => b.bytes);
    return { status: 200, headers: positions, body: batches.length === 1 ? batches[0] : Buffer.concat(batches) };
  }
  // Keys and header values are never JSON: as text where values are JSON.
  const textEncoding = encoding === "json" ? "string" : encoding;
  const records = [];
  let nextOffset = result.nextOffset;
  let bytes = 0;
  read: for (const batch of result.batches) {
    for (const r of decodeStored(batch.bytes)) {
      if (r.offset < offset) continue;
      let record;
      let size;
      try {
        record = {
          partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : render(r.key, textEncoding),
          value: r.value === null ? null : render(r.value, encoding),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : render(h.value, textEncoding) })),
        };
        // What the record adds to Lambda's answer: its JSON, as a string within the answer's JSON.
        size = Buffer.byteLength(JSON.stringify(JSON.stringify(record))) - 1;
      } catch (e) {
        // A value that is not JSON (or nests too deeply to answer as JSON) ends the answer before
        // it; a fetch that starts there is refused, naming it.
        const notText = isSeglogError(e) && e.code === "NotUtf8";
        const why = e instanceof RangeError ? "nests too deeply to answer as JSON" : isSeglogError(e) && e.code === "NotJson" ? "is not JSON" : undefined;
        if (why === undefined && !notText) throw e;
        if (records.length > 0) {
          nextOffset = r.offset;
          break read;
        }
        if (notText) {
          // As produce refuses text that would not come back as sent, a fetch does not change it: an
          // invalid sequence would be answered as U+FFFD, and the record's bytes lost to the reader.
          throw invalid(`The record at offset ${r.offset} has a key, value or header that is not UTF-8; fetch it with encoding=base64`, "NotUtf8");
        }
        throw invalid(`The value of the record at offset ${r.offset} ${why}; fetch it with encoding=string or base64`, "NotJson");
      }
      if (bytes + size > MAX_JSON_RECORDS_BYTES) {
        if (records.length === 0) {
          throw tooLarge(
            `The record at offset ${r.offset} takes ${size} bytes in a JSON answer with encoding=${encoding}, over the ${MAX_JSON_RECORDS_BYTES} one can carry; ` +
              "fetch it with Accept: application/octet-stream",
          );
        }
        nextOffset = r.offset;
        break read;
      }
      bytes += size;
      records.push(record);
    }
  }
  return {
    status: 200,
    body: { records, nextOffset, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, topicId: result.topicId },
  };
}

/** Text as it was produced, or none: a byte sequence that is not UTF-8 would come back changed. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function render(bytes: Uint8Array, encoding: Encoding): Json {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (encoding === "base64") return buf.toString("base64");
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw invalid("A record's bytes are not UTF-8; fetch with encoding=base64", "NotUtf8");
  }
  if (encoding === "string") return text;
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw invalid("A record value is not JSON; fetch with encoding=string or base64", "NotJson");
  }
}
