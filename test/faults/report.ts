/** Text for the fault tests: one line per run, totals over runs, and a failure report to reproduce from. */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { INVARIANT_TEXT } from "./checker.ts";
import type { WorkloadResult, WorkloadStats } from "./workload.ts";

export interface Totals {
  runs: number;
  seconds: number;
  requests: number;
  requestsByStep: Record<string, number>;
  byKind: Record<string, number>;
  byStep: Record<string, number>;
  attempted: number;
  acked: number;
  failed: number;
  processed: number;
  commits: number;
  lateCommits: number;
  tailRecords: number;
  finalRecords: number;
  crashedInvocations: number;
  killedMembers: number;
  maintenanceRuns: number;
  reservationsAborted: number;
  segmentsDeleted: number;
  sharedObjectsDeleted: number;
  merges: number;
  segmentsMerged: number;
  violations: number;
}

export const emptyTotals = (): Totals => ({
  runs: 0,
  seconds: 0,
  requests: 0,
  requestsByStep: {},
  byKind: {},
  byStep: {},
  attempted: 0,
  acked: 0,
  failed: 0,
  processed: 0,
  commits: 0,
  lateCommits: 0,
  tailRecords: 0,
  finalRecords: 0,
  crashedInvocations: 0,
  killedMembers: 0,
  maintenanceRuns: 0,
  reservationsAborted: 0,
  segmentsDeleted: 0,
  sharedObjectsDeleted: 0,
  merges: 0,
  segmentsMerged: 0,
  violations: 0,
});

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
const list = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

export function addRun(totals: Totals, stats: WorkloadStats, violations: number): void {
  totals.runs++;
  totals.seconds += stats.seconds;
  totals.requests += stats.requests;
  add(totals.requestsByStep, stats.requestsByStep);
  add(totals.byKind, stats.faults.byKind);
  add(totals.byStep, stats.faults.byStep);
  totals.attempted += stats.produced.attempted;
  totals.acked += stats.produced.acked;
  totals.failed += stats.produced.failed;
  totals.processed += Object.values(stats.consumed).reduce((n, c) => n + c.processed, 0);
  totals.commits += stats.commits;
  totals.lateCommits += stats.lateCommits;
  totals.tailRecords += stats.tail.records;
  totals.finalRecords += stats.final.records;
  totals.crashedInvocations += stats.invocations.crashed + stats.invocations.timeout;
  totals.killedMembers += stats.members.killed;
  totals.maintenanceRuns += stats.maintenance.runs;
  totals.reservationsAborted += stats.maintenance.reservationsAborted;
  totals.segmentsDeleted += stats.maintenance.segmentsDeleted;
  totals.sharedObjectsDeleted += stats.maintenance.sharedObjectsDeleted;
  totals.merges += stats.maintenance.merges;
  totals.segmentsMerged += stats.maintenance.segmentsMerged;
  totals.violations += violations;
}

export function runLine(stats: WorkloadStats, violations: number): string {
  const groups = Object.values(stats.consumed)
    .map((c) => `${c.processed}/${c.distinct}`)
    .join(" ");
  return (
    `seed ${stats.seed}: ${stats.seconds} s, ${stats.requests} requests, ${sum(stats.faults.byKind)} faults (${list(stats.faults.byKind)}); ` +
    `invocations ${stats.invocations.total} (crashed ${stats.invocations.crashed}, timed out ${stats.invocations.timeout}, abandoned ${stats.invocations.abandoned}); ` +
    `records attempted ${stats.produced.attempted}, acked ${stats.produced.acked}, failed ${stats.produced.failed} (${stats.produced.producers} producers); ` +
    `processed/distinct per group ${groups}; commits ${stats.commits} (${stats.lateCommits} late); members joined ${stats.members.joined}, killed ${stats.members.killed}; ` +
    `tail ${stats.tail.records} records in ${stats.tail.fetches} fetches; members reading from S3 ${stats.memberReads.fromStorage}, through the API ${stats.memberReads.throughApi}, ` +
    `their S3 GETs ${stats.memberReads.s3Gets} (${stats.memberReads.s3Faults} faulted); maintenance ${stats.maintenance.runs} runs (${stats.maintenance.sweeps} sweeps), ` +
    `${stats.maintenance.reservationsAborted} aborts, ${stats.maintenance.segmentsDeleted} segments deleted, ${stats.maintenance.sharedObjectsDeleted} shared objects deleted, ${stats.maintenance.merges} merges of ${stats.maintenance.segmentsMerged}; ` +
    `requests by step ${list(stats.requestsByStep)}; ` +
    `final ${stats.final.records} records, log start ${stats.final.logStart}, hwm ${stats.final.highWatermark}; drain ${stats.drainMs} ms (${list(stats.phases)}); latency p50/p90/max ${Object.entries(stats.latencyMs).map(([fn, l]) => `${fn} ${l.p50}/${l.p90}/${l.max}`).join(", ")} ms; violations ${violations}`
  );
}

export function totalsReport(t: Totals): string {
  return [
    `fault runs: ${t.runs} seeds, ${t.seconds} s under faults, ${t.requests} SDK requests`,
    `requests by step: ${list(t.requestsByStep)}`,
    `faults injected: ${sum(t.byKind)}`,
    `  by kind: ${list(t.byKind)}`,
    `  by step: ${list(t.byStep)}`,
    `records: attempted ${t.attempted}, acknowledged ${t.acked}, failed ${t.failed}; processed by groups ${t.processed}; read by tail readers ${t.tailRecords}; in the final reads ${t.finalRecords}`,
    `offset commits landed ${t.commits} (${t.lateCommits} late); invocations crashed or timed out ${t.crashedInvocations}; members killed ${t.killedMembers}; maintenance runs ${t.maintenanceRuns} (${t.reservationsAborted} reservations aborted, ${t.segmentsDeleted} segments deleted by retention, ${t.sharedObjectsDeleted} shared objects deleted, ${t.merges} merges of ${t.segmentsMerged} segments)`,
    `violations: ${t.violations}`,
  ].join("\n");
}

/**
 * The failure report: seed, the first violated invariant with its evidence, the fault schedule
 * (the last `scheduleLines` faults before the violation's evidence, all of them in the JSON
 * file it writes next to the report), and how to run the seed again.
 */
export function failureReport(result: WorkloadResult, scheduleLines = 60): string {
  const { check, plan, stats } = result;
  const first = check.first;
  const file = join(tmpdir(), `seglog-faults-seed-${stats.seed}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ stats, violations: check.violations, schedule: plan.schedule, history: result.history }, null, 1));
  const schedule = plan.schedule.slice(-scheduleLines).map((f) => `  #${f.request} ${f.step}[${f.stepRequest}] ${f.kind}${f.holdMs > 0 && f.kind !== "error" && f.kind !== "throttle" && f.kind !== "timeout-after" ? ` ${f.holdMs} ms` : ""} (${f.command}, ${f.invocation})`);
  return [
    `seed ${stats.seed}: ${check.violations.length} violation(s); first: ${first?.invariant} — ${first ? INVARIANT_TEXT[first.invariant] : ""}`,
    `  ${first?.message}`,
    `  evidence: ${JSON.stringify(first?.evidence)}`,
    ...check.violations.slice(1, 10).map((v) => `  also ${v.invariant}: ${v.message}`),
    `fault schedule: ${plan.schedule.length} faults (last ${Math.min(scheduleLines, plan.schedule.length)} below; all, with the history, in ${file})`,
    ...schedule,
    runLine(stats, check.violations.length),
    `reproduce: SEGLOG_FAULT_SEED=${stats.seed} SEGLOG_FAULT_SEEDS=1 SEGLOG_FAULT_SECONDS=${stats.seconds} npx vitest run test/faults/faults.test.ts`,
  ].join("\n");
}
