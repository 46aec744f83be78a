import { SeglogError, isSeglogError } from "../core/errors.ts";
import { contextFromEnv, maintain } from "../http/app.ts";
import { intArg, parse } from "./args.ts";
import { UsageError } from "./output.ts";

/**
 * `seglog maintenance --once`: one maintenance run against the storage named by the standard
 * environment (`AWS_ENDPOINT_URL_*`, `SEGLOG_TABLE`, `SEGLOG_BUCKET`, as `seglog dev` prints them),
 * the same code the scheduled function runs, over every topic or one (`--topic`). Prints the
 * report as JSON, and exits 1 when a step failed. `--merge-after-ms 0` merges the newest run of
 * small segments without waiting.
 */
export async function maintenanceCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    once: { type: "boolean" },
    topic: { type: "string" },
    "budget-ms": { type: "string" },
    "merge-after-ms": { type: "string" },
  });
  if (values.url !== undefined) {
    throw new UsageError("maintenance takes no --url: it runs against the storage its environment names (AWS_ENDPOINT_URL_*, SEGLOG_TABLE, SEGLOG_BUCKET)");
  }
  if (!values.once) throw new UsageError("maintenance runs with --once (seglog dev also runs it every minute)");
  const budgetMs = intArg(values["budget-ms"], "budget-ms", 1) ?? 60_000;
  const mergeAfterMs = intArg(values["merge-after-ms"], "merge-after-ms", 0);
  const context = contextFromEnv();
  const { log } = context;
  let report;
  try {
    if (values.topic !== undefined) await log.topic(values.topic); // NotFound, not an empty run
    report = await maintain(context, {
      budgetMs,
      ...(values.topic === undefined ? {} : { topics: [values.topic] }),
      ...(mergeAfterMs === undefined ? {} : { mergeAfterMs }),
    });
  } catch (e) {
    // The storage is out of reach or not named: say which variables name it.
    if (isSeglogError(e) && /CredentialsProviderError|ECONNREFUSED/.test(e.message)) {
      throw new SeglogError(e.kind, `${e.message}; maintenance reads the storage its environment names: export the AWS_ENDPOINT_URL_* (and SEGLOG_TABLE, SEGLOG_BUCKET) variables that seglog dev prints, or AWS credentials`, { retriable: e.retriable });
    }
    throw e;
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  // A step that failed fails the command, so that a script or cron job hears of it (a run the
  // budget stopped is not a failure: the next run goes on, and `incomplete` says so).
  if (report.failures === 0) return 0;
  process.stderr.write(`maintenance: ${report.failures} step(s) failed; the last: ${report.lastError ?? "unknown"}\n`);
  return 1;
}
