import { contextFromEnv } from "../http/app.ts";
import { intArg, parse } from "./args.ts";
import { UsageError } from "./output.ts";

/**
 * `seglog maintenance --once`: one maintenance run against the storage named by the standard
 * environment (`AWS_ENDPOINT_URL_*`, `SEGLOG_TABLE`, `SEGLOG_BUCKET`, as `seglog dev` prints them),
 * the same code the scheduled function runs. Prints the report as JSON.
 */
export async function maintenanceCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { once: { type: "boolean" }, "budget-ms": { type: "string" } });
  if (!values.once) throw new UsageError("maintenance runs with --once (seglog dev also runs it every minute)");
  const budgetMs = intArg(values["budget-ms"], "budget-ms", 1) ?? 60_000;
  const report = await contextFromEnv().log.runMaintenance({ budgetMs });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}
