import { lazyContext, produceContextFromEnv } from "../src/http/app.ts";
import { produceRoutes } from "../src/http/log-routes.ts";
import { lambdaHandler } from "../src/http/router.ts";

/** The produce function: API Gateway (HTTP API v2 or REST v1 proxy) events for its routes. */
export const handler = lambdaHandler(produceRoutes, "produce", lazyContext(() => produceContextFromEnv()));
