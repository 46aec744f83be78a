import { LogTopicCatalog } from "../groups/log-catalog.ts";
import { GroupService } from "../groups/service.ts";
import { Log } from "../log/log.ts";
import { logOptionsFromEnv } from "../log/options.ts";
import { createClients, readSeglogEnv, type Env } from "../storage/clients.ts";
import { DynamoGroupStore } from "../storage/groups-store.ts";
import { groupRoutes, type GroupContext } from "./group-routes.ts";
import { logRoutes, type LogContext } from "./log-routes.ts";
import type { Route } from "./router.ts";

/** Everything a request handler needs; built once per function instance (or local server). */
export type AppContext = LogContext & GroupContext;

export const routes: readonly Route<AppContext>[] = [...logRoutes, ...groupRoutes];

/** The context for a Lambda function or the local server, from the standard environment. */
export function contextFromEnv(env: Env = process.env): AppContext {
  const clients = createClients(env);
  const { bucket, table } = readSeglogEnv(env);
  const log = new Log({ ...clients, bucket, table }, logOptionsFromEnv(env));
  const groups = new GroupService({
    store: new DynamoGroupStore({ client: clients.dynamo, tableName: table }),
    catalog: new LogTopicCatalog(log),
  });
  return { log, groups };
}

/** A lazily built, then reused, context: one per Lambda instance. */
export function lazyContext(build: () => AppContext = contextFromEnv): () => AppContext {
  let ctx: AppContext | undefined;
  return () => (ctx ??= build());
}
