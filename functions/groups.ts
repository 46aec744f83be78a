import { contextFromEnv, lazyContext } from "../src/http/app.ts";
import { groupRoutes } from "../src/http/group-routes.ts";
import { lambdaHandler } from "../src/http/router.ts";

/** The groups function: API Gateway (HTTP API v2 or REST v1 proxy) events for its routes. */
export const handler = lambdaHandler(groupRoutes, "groups", lazyContext(() => contextFromEnv()));
