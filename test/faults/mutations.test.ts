/**
 * The checker catches a broken Seglog end to end. Each case runs the workload twice under the
 * same aggressive plan: as shipped, where every invariant holds, and with one conditional write
 * made unconditional by rewriting its ConditionExpression on the SDK client. The difference is
 * what that condition buys.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { withoutCondition, type RequestInfo, type Step } from "../helpers/faults.ts";
import { failureReport, runLine } from "./report.ts";
import { runWorkload, type WorkloadOptions } from "./workload.ts";

beforeAll(() => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterAll(() => {
  vi.restoreAllMocks();
});

const bypass = (step: Step) => (req: RequestInfo, s: Step) => (s === step ? withoutCondition(req.input) : undefined);

async function both(options: WorkloadOptions, step: Step) {
  const shipped = await runWorkload(options);
  console.log(`as shipped: ${runLine(shipped.stats, shipped.check.violations.length)}`);
  if (!shipped.check.ok) expect.fail(failureReport(shipped));
  // The broken variant need not wait long for groups that may never catch up.
  const broken = await runWorkload({ ...options, drainTimeoutMs: 10_000, mutate: bypass(step) });
  console.log(`without the ${step} condition: ${runLine(broken.stats, broken.check.violations.length)}\n${broken.check.ok ? "" : failureReport(broken, 10)}`);
  return { shipped, broken, invariants: new Set(broken.check.violations.map((v) => v.invariant)) };
}

describe("the checker against a deliberately broken Seglog", () => {
  it(
    "catches a produce commit that no longer loses to an abort: late commits land behind readers and duplicate retried batches",
    async () => {
      // Commits stall in flight longer than the abort timeout, so readers abort them first; the
      // producer (told 504 at once) retries while the stalled attempt is still running.
      const { shipped, broken, invariants } = await both(
        { seed: 7001, seconds: 4, rates: { stall: 0.5 }, steps: (s) => s === "commit", maxHoldMs: 1500, abortTimeoutMs: 200, functionTimeoutMs: 5000, groups: [1] },
        "commit",
      );
      expect(shipped.check.violations).toEqual([]);
      expect(shipped.stats.produced.acked).toBeGreaterThan(0);
      expect(broken.check.ok).toBe(false);
      expect([...invariants].some((i) => ["no-duplicates", "read-skipped", "read-stable", "acked-readable", "group-coverage"].includes(i))).toBe(true);
    },
    180_000,
  );

  it(
    "catches an offset commit that is no longer fenced by owner and epoch: a zombie's late commit lands after the partition moved",
    async () => {
      // Offset commits stall in flight while members come and go every second or so, so leases
      // move under them (a member commits before it leaves: its stalled attempts land after).
      const { shipped, broken, invariants } = await both(
        {
          seed: 7002,
          seconds: 6,
          rates: { stall: 0.6 },
          steps: (s) => s === "offset-commit",
          maxHoldMs: 2500,
          functionTimeoutMs: 5000,
          abortTimeoutMs: 8000,
          memberLifetimeMs: [500, 2000],
        },
        "offset-commit",
      );
      expect(shipped.check.violations).toEqual([]);
      expect(shipped.stats.commits).toBeGreaterThan(0);
      expect(broken.check.ok).toBe(false);
      expect(invariants.has("commit-fenced")).toBe(true);
    },
    180_000,
  );
});
