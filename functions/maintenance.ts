import { lazyContext, logContextFromEnv } from "../src/http/app.ts";
import type { MaintenanceReport } from "../src/log/maintenance.ts";

const context = lazyContext(() => logContextFromEnv());

/** Leaves this much of the function's time for the last step to finish and the report to be logged. */
const SAFETY_MARGIN_MS = 15_000;

/**
 * The maintenance function, run on a schedule (`infra/maintenance.ts`): aborts stale
 * reservations, applies retention, collects orphaned objects and removes deleted topics' data
 * (docs/maintenance.md). Bounded by the time the invocation has left; safe to run twice at once.
 */
export async function handler(_event: unknown, lambda?: { getRemainingTimeInMillis?: () => number }): Promise<MaintenanceReport> {
  const remaining = lambda?.getRemainingTimeInMillis?.() ?? 60_000 + SAFETY_MARGIN_MS;
  const report = await context().log.runMaintenance({ budgetMs: Math.max(1_000, remaining - SAFETY_MARGIN_MS) });
  console.log(JSON.stringify({ level: "info", message: "maintenance run", ...report }));
  return report;
}
