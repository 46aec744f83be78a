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

  it("sweeps when invoked by hand (no time), and every run when the sweep interval is no longer than the schedule's", () => {
    expect(isSweepRun(undefined, 5, 60)).toBe(true);
    expect(isSweepRun("not a time", 5, 60)).toBe(true);
    expect(runsOver("2026-11-21T23:02:00Z", 5, 1).every((t) => isSweepRun(t, 5, 5))).toBe(true);
    expect(isSweepRun("2026-11-21T23:32:00Z", 5, 60)).toBe(false);
  });
});
