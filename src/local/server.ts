import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tooLarge } from "../core/errors.ts";
import type { ApiGatewayResult } from "../http/event.ts";
import { MAX_REQUEST_BYTES } from "../http/log-routes.ts";
import { errorResponse, matchRoute, type FunctionName, type Route } from "../http/router.ts";
import { toApiGatewayResult } from "../http/event.ts";

export type LambdaHandler = (event: unknown) => Promise<ApiGatewayResult>;

export interface LocalApiOptions {
  /** @default 8092 */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** The route table, used only to pick which function gets a request, as API Gateway does. */
  readonly routes: readonly Route<never>[];
  readonly handlers: Readonly<Record<FunctionName, LambdaHandler>>;
}

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  /** Stops taking connections, lets the requests in flight finish for up to `drainMs`, then
   * closes every connection left. @default drainMs 0: at once */
  close(drainMs?: number): Promise<void>;
}

/**
 * Serves `/v1` locally the way API Gateway does: each HTTP request becomes an HTTP API
 * (payload format 2.0) event, handed to the Lambda handler that owns the route.
 */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const server = createServer((req, res) => {
    // While closing, a connection is closed once answered (server.close() closes only those idle
    // when it is called; the rest would stay open, keep-alive, until the drain ran out).
    res.on("finish", () => server.listening || server.closeIdleConnections());
    void serve(req, res, options).catch((e) => {
      // A body abandoned half read (too large) leaves the connection unusable: close it after the answer.
      if (req.destroyed) res.shouldKeepAlive = false;
      send(res, toApiGatewayResult(errorResponse(e)));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8092, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return { url: `http://${address}:${port}`, port, close: (drainMs = 0) => closeServer(server, drainMs) };
}

async function serve(req: IncomingMessage, res: ServerResponse, options: LocalApiOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  // The path as sent: a URL resolves `.` and `..` segments, encoded ones too (`%2e%2e`), which
  // would hand the route a path the client did not ask for. The router decodes each segment.
  // A request line in absolute form (`http://host/path`) has its scheme and authority cut, no more.
  const path = (req.url ?? "/").replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "").split("?")[0] || "/";
  const method = (req.method ?? "GET").toUpperCase();
  const body = await readBody(req, isText(req.headers["content-type"]) ? MAX_REQUEST_BYTES : MAX_BINARY_BODY_BYTES);
  const match = matchRoute(options.routes, method, path);
  const fn: FunctionName = match?.route.fn ?? "admin";
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
  // A repeated parameter's values joined with commas, as API Gateway's HTTP API does.
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: query,
    requestContext: { http: { method, path, sourceIp: req.socket.remoteAddress ?? "" }, stage: "$default" },
    body: body.toString("base64"),
    isBase64Encoded: true,
  };
  send(res, await options.handlers[fn](event));
}

/**
 * API Gateway hands Lambda a binary body in base64, and Lambda takes events of at most 6 MB: on
 * AWS a binary body over 4.5 MiB never reaches Seglog. Here it is refused with TooLarge, so that
 * what works locally works deployed (README: the SDK sends at most 4 MiB a request).
 */
const MAX_BINARY_BODY_BYTES = (MAX_REQUEST_BYTES / 4) * 3;

/** Bodies API Gateway passes to Lambda as text, not base64. */
const isText = (contentType: string | undefined) => contentType === undefined || /^\s*(text\/|application\/json)/i.test(contentType);

/** The body, into one buffer of the declared length when there is one (no chunk list to join);
 * without one, a buffer that grows as chunks come (none for a request without a body). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  const what = limit === MAX_REQUEST_BYTES ? "" : " (a binary body, which Lambda's 6 MB event carries in base64)";
  if (declared > limit) throw tooLarge(`Request body of ${declared} bytes exceeds ${limit}${what}`);
  let body = Buffer.allocUnsafe(Number.isSafeInteger(declared) && declared >= 0 ? declared : 0);
  let size = 0;
  for await (const chunk of req) {
    const bytes = chunk as Buffer;
    if (size + bytes.byteLength > limit) throw tooLarge(`Request body exceeds ${limit} bytes${what}`);
    if (size + bytes.byteLength > body.byteLength) {
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(64 * 1024, 2 * body.byteLength, size + bytes.byteLength)));
      body.copy(grown, 0, 0, size);
      body = grown;
    }
    bytes.copy(body, size);
    size += bytes.byteLength;
  }
  return body.subarray(0, size);
}

function send(res: ServerResponse, result: ApiGatewayResult): void {
  if (res.headersSent) return;
  const body = Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  res.writeHead(result.statusCode, { ...result.headers, "content-length": String(body.byteLength) });
  res.end(body);
}

async function closeServer(server: Server, drainMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), drainMs);
  await closed;
  clearTimeout(timer);
}
