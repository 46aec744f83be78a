import { httpStatusOf, invalid, isSeglogError, notFound } from "../core/errors.ts";
import { toSeglogError } from "../storage/aws-errors.ts";
import { parseApiGatewayEvent, toApiGatewayResult, type ApiGatewayResult, type HttpRequest, type HttpResponse } from "./event.ts";
import { defaultObserver, type RequestObserver } from "./metrics.ts";

/** The Lambda functions the API is split into; each owns the routes tagged with its name. */
export type FunctionName = "admin" | "produce" | "fetch" | "groups";

export interface Route<C> {
  readonly method: string;
  /** e.g. `/v1/topics/{topic}/records` */
  readonly path: string;
  readonly fn: FunctionName;
  readonly handle: (req: HttpRequest, params: Readonly<Record<string, string>>, ctx: C) => Promise<HttpResponse>;
}

export interface RouteMatch<C> {
  readonly route: Route<C>;
  readonly params: Record<string, string>;
}

export function matchRoute<C>(routes: readonly Route<C>[], method: string, path: string): RouteMatch<C> | undefined {
  const parts = path.replace(/\/+$/, "").split("/");
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i++) {
      const want = pattern[i] as string;
      const got = parts[i] as string;
      if (want.startsWith("{")) {
        try {
          params[want.slice(1, -1)] = decodeURIComponent(got);
        } catch {
          ok = false;
        }
        ok &&= got.length > 0;
      } else ok = want === got;
    }
    if (ok) return { route, params };
  }
  return undefined;
}

function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a request through the routes and maps every failure to a typed error response. */
export async function dispatch<C>(
  routes: readonly Route<C>[],
  req: HttpRequest,
  ctx: C,
  only?: FunctionName,
): Promise<HttpResponse> {
  try {
    const match = matchRoute(routes, req.method, req.path);
    if (!match || (only !== undefined && match.route.fn !== only)) {
      // A name whose escapes do not decode (%E0%A4%A) would name no topic or group: the request is at fault.
      if (!decodes(req.path)) throw invalid(`The path ${req.path} is not valid percent-encoded UTF-8`, "InvalidPath");
      throw notFound(`No route ${req.method} ${req.path}`);
    }
    return await match.route.handle(req, match.params, ctx);
  } catch (e) {
    return errorResponse(e);
  }
}

export function errorResponse(e: unknown): HttpResponse {
  const error = isSeglogError(e) ? e : toSeglogError(e);
  if (error.kind === "Internal") {
    console.error(JSON.stringify({ level: "error", message: error.message, cause: String((error.cause as Error | undefined)?.stack ?? e) }));
  }
  const headers: Record<string, string> = {};
  if (error.kind === "Throttled") headers["retry-after"] = String(Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000)));
  return { status: httpStatusOf(error), headers, body: error.toJSON() };
}

/** A Lambda handler for one function: API Gateway event in, proxy result out, never a throw. */
export function lambdaHandler<C>(
  routes: readonly Route<C>[],
  fn: FunctionName,
  context: () => C,
  // Observability seam (issue 6): a structured log line with EMF metrics per request, in Lambda only.
  observe: RequestObserver | undefined = defaultObserver(),
): (event: unknown) => Promise<ApiGatewayResult> {
  return async (event: unknown) => {
    const startedMs = performance.now();
    let req: HttpRequest;
    try {
      req = parseApiGatewayEvent(event);
    } catch (e) {
      return toApiGatewayResult(errorResponse(e));
    }
    const response = await dispatch(routes, req, context(), fn);
    const result = toApiGatewayResult(response);
    const route = observe && matchRoute(routes, req.method, req.path)?.route.path;
    observe?.({ fn, request: req, route, response, result, durationMs: performance.now() - startedMs });
    return result;
  };
}
