import { invalid } from "../core/errors.ts";

/** An HTTP request as Seglog's routes see it, whichever API Gateway flavour delivered it. */
export interface HttpRequest {
  readonly method: string;
  /** Path starting at `/v1`, with any stage prefix removed. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** What a Lambda proxy integration returns; both payload formats accept this shape. */
export interface ApiGatewayResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = val;
  return out;
}

/**
 * Accepts an HTTP API (payload format 2.0) or REST API (1.0) proxy event. Anything else is
 * `Invalid`: the handler validates its event like any other input.
 */
export function parseApiGatewayEvent(event: unknown): HttpRequest {
  if (!isRecord(event)) throw invalid("Not an API Gateway proxy event");
  const ctx = isRecord(event["requestContext"]) ? event["requestContext"] : {};
  let method: unknown;
  let path: unknown;
  if (event["version"] === "2.0") {
    method = isRecord(ctx["http"]) ? ctx["http"]["method"] : undefined;
    path = event["rawPath"];
  } else {
    method = event["httpMethod"];
    path = event["path"];
  }
  if (typeof method !== "string" || typeof path !== "string") {
    throw invalid("Not an API Gateway proxy event: no method or path");
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(stringMap(event["headers"]))) headers[k.toLowerCase()] = v;
  const query = event["version"] === "2.0" ? stringMap(event["queryStringParameters"]) : restQuery(event);
  const raw = event["body"];
  const body =
    typeof raw === "string" ? Buffer.from(raw, event["isBase64Encoded"] === true ? "base64" : "utf8") : Buffer.alloc(0);
  return { method: method.toUpperCase(), path: withoutStage(path), query, headers, body };
}

/**
 * A REST API's query: a repeated parameter's values joined with commas, as an HTTP API hands them
 * over (its `queryStringParameters` keeps only the last one).
 */
function restQuery(event: Record<string, unknown>): Record<string, string> {
  const query = stringMap(event["queryStringParameters"]);
  const multi = event["multiValueQueryStringParameters"];
  if (!isRecord(multi)) return query;
  for (const [k, vs] of Object.entries(multi)) {
    if (Array.isArray(vs) && vs.every((v) => typeof v === "string")) query[k] = vs.join(",");
  }
  return query;
}

/** `/prod/v1/topics` → `/v1/topics`: HTTP APIs with a named stage keep it in `rawPath`. */
function withoutStage(path: string): string {
  const at = path.indexOf("/v1/");
  if (at > 0) return path.slice(at);
  if (path.endsWith("/v1") && path.length > 3) return "/v1";
  return path;
}

export function toApiGatewayResult(response: HttpResponse): ApiGatewayResult {
  const headers: Record<string, string> = { ...response.headers };
  if (response.body === undefined) return { statusCode: response.status, headers, body: "", isBase64Encoded: false };
  if (response.body instanceof Uint8Array) {
    headers["content-type"] ??= "application/octet-stream";
    return {
      statusCode: response.status,
      headers,
      body: Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString("base64"),
      isBase64Encoded: true,
    };
  }
  headers["content-type"] ??= "application/json";
  return { statusCode: response.status, headers, body: JSON.stringify(response.body), isBase64Encoded: false };
}
