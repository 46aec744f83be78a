import { contextFromEnv, lazyContext, maintain } from "../src/http/app.ts";
import { maintenanceLogEntry } from "../src/http/metrics.ts";
import { isSweepRun, type MaintenanceReport } from "../src/log/maintenance.ts";

const context = lazyContext(() => contextFromEnv());

/** Leaves this much of the function's time for the last step to finish and the report to be logged. */
const SAFETY_MARGIN_MS = 15_000;

/** Whole minutes from the environment (`infra/maintenance.ts` sets them), else `fallback`. */
function minutesFromEnv(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The maintenance function, run on a schedule (`infra/maintenance.ts`): aborts stale
 * reservations, applies retention, merges small segments, collects orphaned objects and removes
 * deleted topics' data, their groups' committed offsets included (docs/maintenance.md). The first scheduled run of each sweep interval (an
 * hour) sweeps, the others run light; a run invoked by hand (no `time`) sweeps. Bounded by the
 * time the invocation has left; safe to run twice at once.
 */
export async function handler(event: { time?: string } | undefined, lambda?: { getRemainingTimeInMillis?: () => number }): Promise<MaintenanceReport> {
  const remaining = lambda?.getRemainingTimeInMillis?.() ?? 60_000 + SAFETY_MARGIN_MS;
  const sweep = isSweepRun(event?.time, minutesFromEnv("SEGLOG_MAINTENANCE_INTERVAL_MINUTES", 5), minutesFromEnv("SEGLOG_SWEEP_INTERVAL_MINUTES", 60));
  const report = await maintain(context(), { budgetMs: Math.max(1_000, remaining - SAFETY_MARGIN_MS), sweep });
  console.log(JSON.stringify(maintenanceLogEntry(report, process.env["AWS_LAMBDA_FUNCTION_NAME"] ?? "maintenance", Date.now())));
  return report;
}
