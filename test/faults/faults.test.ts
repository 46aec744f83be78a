/**
 * Seglog under seeded faults (docs/fault-testing.md): the workload runs for a while under a fault
 * plan and the checker must find every invariant intact. Short form by default (inside
 * `npm test`); `npm run test:faults` runs the long form. Environment:
 *   SEGLOG_FAULT_SEEDS    how many seeds (default 2)
 *   SEGLOG_FAULT_SECONDS  seconds under faults per seed (default 6)
 *   SEGLOG_FAULT_SEED     the first seed (default 1); seeds run in order from it
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { FaultKind } from "../helpers/faults.ts";
import { addRun, emptyTotals, failureReport, runLine, totalsReport } from "./report.ts";
import { runWorkload } from "./workload.ts";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${raw}`);
  return n;
}

const SEEDS = envInt("SEGLOG_FAULT_SEEDS", 2);
const SECONDS = envInt("SEGLOG_FAULT_SECONDS", 6);
const FIRST_SEED = envInt("SEGLOG_FAULT_SEED", 1);

/** Per SDK request attempt; about one request in twenty gets a fault. */
export const RATES: Readonly<Record<FaultKind, number>> = {
  error: 0.012,
  throttle: 0.012,
  "timeout-after": 0.012,
  "crash-before": 0.004,
  "crash-after": 0.004,
  stall: 0.006,
};

const totals = emptyTotals();
let errorLines = 0;

beforeAll(() => {
  // Every injected fault that reaches a handler is logged as an Internal error: count, do not print.
  vi.spyOn(console, "error").mockImplementation(() => void errorLines++);
});

afterAll(() => {
  vi.restoreAllMocks();
  console.log(`${totalsReport(totals)}\nhandler error lines (injected faults reaching a handler): ${errorLines}`);
});

describe("Seglog under injected faults", () => {
  const seeds = Array.from({ length: SEEDS }, (_, i) => FIRST_SEED + i);
  it.each(seeds)(
    `seed %i: ${SECONDS} s of produce, consume, rebalance and maintenance; no acknowledged record lost, every invariant holds`,
    async (seed) => {
      const result = await runWorkload({ seed, seconds: SECONDS, rates: RATES });
      addRun(totals, result.stats, result.check.violations.length);
      console.log(runLine(result.stats, result.check.violations.length));
      if (!result.check.ok) expect.fail(failureReport(result));
      expect(result.check.violations).toEqual([]);
      // The run did what it is for: faults hit it, and records were acknowledged and consumed.
      expect(result.plan.schedule.length).toBeGreaterThan(0);
      expect(result.stats.produced.acked).toBeGreaterThan(0);
      expect(Object.values(result.stats.consumed).every((c) => c.distinct > 0)).toBe(true);
    },
    SECONDS * 1000 + 180_000,
  );
});
