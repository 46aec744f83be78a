import { LogTopicCatalog } from "../groups/log-catalog.ts";
import { GroupService } from "../groups/service.ts";
import { Log } from "../log/log.ts";
import type { MaintenanceOptions, MaintenanceReport } from "../log/maintenance.ts";
import { logOptionsFromEnv } from "../log/options.ts";
import { LogWriter } from "../log/writer.ts";
import { createClients, readSeglogEnv, type Env, type SeglogClients } from "../storage/clients.ts";
import { DynamoGroupStore } from "../storage/groups-store.ts";
import { groupRoutes, type GroupContext } from "./group-routes.ts";
import { logRoutes, type LogContext, type ProduceContext } from "./log-routes.ts";
import type { Route } from "./router.ts";

/** Everything a request handler needs; built once per function instance (or local server). */
export type AppContext = LogContext & GroupContext;

/** Every route, for the local server and the tests. Each Lambda function's entry
 * (`functions/*.ts`) imports only its own routes and context, so that its bundle holds only their
 * code; the annotation lets the bundler drop this list from bundles that never read it. */
export const routes: readonly Route<AppContext>[] = /* @__PURE__ */ (logRoutes as Route<AppContext>[]).concat(groupRoutes);

/** The log engine over the deployment's table and bucket, from the standard environment. */
export function logContextFromEnv(env: Env = process.env): LogContext {
  return { log: logOver(createClients(env), env) };
}

/** The produce function's context: only the log's write side, so that its bundle leaves the rest out. */
export function produceContextFromEnv(env: Env = process.env): ProduceContext {
  return { log: new LogWriter({ ...createClients(env), ...readSeglogEnv(env) }, logOptionsFromEnv(env)) };
}

/** The context for the groups function or the local server: the log, and consumer groups over it. */
export function contextFromEnv(env: Env = process.env): AppContext {
  const clients = createClients(env);
  const log = logOver(clients, env);
  const groups = new GroupService({
    store: new DynamoGroupStore({ client: clients.dynamo, tableName: readSeglogEnv(env).table }),
    catalog: new LogTopicCatalog(log),
  });
  return { log, groups };
}

/** A maintenance run (docs/maintenance.md) that also drops what groups keep of deleted topics. */
export function maintain({ log, groups }: AppContext, options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
  return log.runMaintenance({ ...options, dropGroupOffsets: (deleted, outOfTime) => groups.dropDeletedTopic(deleted, outOfTime) });
}

function logOver(clients: SeglogClients, env: Env): Log {
  return new Log({ ...clients, ...readSeglogEnv(env) }, logOptionsFromEnv(env));
}

/** A lazily built, then reused, context: one per Lambda instance. */
export function lazyContext<C>(build: () => C): () => C {
  let ctx: C | undefined;
  return () => (ctx ??= build());
}
