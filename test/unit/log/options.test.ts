import { describe, expect, it } from "vitest";
import { checkedLogOptions, logOptionsFromEnv } from "../../../src/log/options.ts";

describe("log options from the functions' environment", () => {
  it("reads the long poll's re-read interval, and refuses one the engine cannot work with, as it was set", () => {
    expect(logOptionsFromEnv({})).toEqual({});
    expect(logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: "" })).toEqual({}); // empty is unset
    expect(logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: " 25 " })).toEqual({ pollIntervalMs: 25 });
    expect(checkedLogOptions(logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: "25" })).pollIntervalMs).toBe(25);
    expect(checkedLogOptions({}).pollIntervalMs).toBe(100);
    for (const bad of ["25ms", "fast", "-5", "1.5", "1e2"]) {
      expect(() => logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: bad })).toThrow(`SEGLOG_POLL_INTERVAL_MS must be a whole number of ms, not '${bad}'`);
    }
    for (const outOfRange of ["0", "20001"]) {
      expect(() => checkedLogOptions(logOptionsFromEnv({ SEGLOG_POLL_INTERVAL_MS: outOfRange }))).toThrow(/SEGLOG_POLL_INTERVAL_MS\) must be a whole number of ms from 1 to 20000/);
    }
  });
});
