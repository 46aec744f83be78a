import { lazyContext, routes } from "../src/http/app.ts";
import { lambdaHandler } from "../src/http/router.ts";

/** The groups function: API Gateway (HTTP API v2 or REST v1 proxy) events for its routes. */
export const handler = lambdaHandler(routes, "groups", lazyContext());
