import { describe, expect, it } from "vitest";
import { DEFAULT_LOG_OPTIONS, checkLogOptions, logOptionsFromEnv } from "../../../src/log/options.ts";

describe("log options from the functions' environment", () => {
  it("reads the long poll's re-read interval, and refuses one the engine cannot work with", () => {
    expect(logOptionsFromEnv({})).toEqual({});
    expect(logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: "25" })).toEqual({ pollIntervalMs: 25 });
    expect(checkLogOptions({ ...DEFAULT_LOG_OPTIONS, ...logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: "25" }) }).pollIntervalMs).toBe(25);
    for (const bad of ["0", "-5", "1.5", "fast", "", "20001"]) {
      expect(() => checkLogOptions({ ...DEFAULT_LOG_OPTIONS, ...logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: bad }) })).toThrow(/SEGLOG_POLL_INTERVAL_MS/);
    }
  });
});
