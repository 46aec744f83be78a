import { describe, expect, it } from "vitest";
import { isSweepRun } from "../../../src/log/maintenance.ts";

describe("which scheduled maintenance runs sweep", () => {
  const runsOver = (startIso: string, intervalMinutes: number, hours: number) =>
    Array.from({ length: (hours * 60) / intervalMinutes }, (_, i) => new Date(Date.parse(startIso) + i * intervalMinutes * 60_000).toISOString());

  it("the first run of each hour, whatever minute the schedule started at", () => {
    for (const start of ["2026-11-21T23:00:00Z", "2026-11-21T23:02:17Z", "2026-11-21T23:04:59Z"]) {
      const sweeps = runsOver(start, 5, 6).filter((t) => isSweepRun(t, 5, 60));
      expect(sweeps, start).toHaveLength(6);
      for (const t of sweeps) expect(new Date(t).getUTCMinutes(), t).toBeLessThan(5);
    }
    // An interval that does not divide the hour still sweeps once per hour.
    const sevens = runsOver("2026-11-21T23:03:00Z", 7, 7).filter((t) => isSweepRun(t, 7, 60));
    expect(sevens).toHaveLength(7);
  });

  it("once an hour when each run fires some seconds into its minute, as EventBridge's schedules do", () => {
    const jittered = runsOver("2026-11-21T23:04:00Z", 5, 6).map((t, i) => new Date(Date.parse(t) + ((i * 37) % 60) * 1000).toISOString());
    const sweeps = jittered.filter((t) => isSweepRun(t, 5, 60));
    expect(sweeps.map((t) => t.slice(11, 16))).toEqual(["23:04", "00:04", "01:04", "02:04", "03:04", "04:04"]);
    expect(isSweepRun("2026-11-21T22:59:59Z", 5, 60)).toBe(false);
    expect(isSweepRun("2026-11-21T23:04:59Z", 5, 60)).toBe(true);
    expect(isSweepRun("2026-11-21T23:00:00Z", 5, 60)).toBe(true);
  });

  it("sweeps when invoked by hand (no time), and every run when the sweep interval is no longer than the schedule's", () => {
    expect(isSweepRun(undefined, 5, 60)).toBe(true);
    expect(isSweepRun("not a time", 5, 60)).toBe(true);
    expect(runsOver("2026-11-21T23:02:00Z", 5, 1).every((t) => isSweepRun(t, 5, 5))).toBe(true);
    expect(isSweepRun("2026-11-21T23:32:00Z", 5, 60)).toBe(false);
  });
});
