import { lazyContext, logContextFromEnv } from "../src/http/app.ts";
import { adminRoutes } from "../src/http/log-routes.ts";
import { lambdaHandler } from "../src/http/router.ts";

/** The admin function: API Gateway (HTTP API v2 or REST v1 proxy) events for its routes. */
export const handler = lambdaHandler(adminRoutes, "admin", lazyContext(() => logContextFromEnv()));
