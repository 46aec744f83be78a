import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApi } from "../../../src/local/server.ts";
import type { MaintenanceReport } from "../../../src/log/maintenance.ts";
import { runCli } from "../../helpers/cli.ts";
import { startTestApi, testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

let api: LocalApi;
beforeAll(async () => {
  api = await startTestApi({ log: testLog().log });
});
afterAll(() => api.close());

describe("seglog maintenance --once", () => {
  it("merges a topic's small segments when asked not to wait, and consumers read the same records", async () => {
    const topic = uniqueName("cli-merge");
    const env = { ...testEnv(), SEGLOG_URL: api.url };
    expect((await runCli(["topics", "--create", "--topic", topic, "--partitions", "1", "--config", "segment.bytes=65536"], { env })).code).toBe(0);
    const { log } = testLog();
    for (let i = 0; i < 40; i++) await log.produceRecords(topic, [{ key: null, value: Buffer.from(`line ${i}`) }]);

    const waiting = await runCli(["maintenance", "--once", "--topic", topic], { env });
    expect(waiting.code).toBe(0);
    expect((JSON.parse(waiting.stdout) as MaintenanceReport).merges).toBe(0); // 40 fresh segments: the last run waits 10 minutes

    const now = await runCli(["maintenance", "--once", "--topic", topic, "--merge-after-ms", "0"], { env });
    expect(now.code).toBe(0);
    expect(JSON.parse(now.stdout) as MaintenanceReport).toMatchObject({ merges: 1, segmentsMerged: 40, failures: 0 });
    const consumed = await runCli(["consume", "--topic", topic, "--from-beginning", "--max-messages", "40"], { env });
    expect(consumed.stdout.trim().split("\n")).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i}`));
  });

  it("exits 1, naming the failure, when a step of the run failed (here the bucket is not there), so that a script hears of it", async () => {
    const topic = uniqueName("cli-fail");
    const { log } = testLog();
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 3; i++) await log.produceRecords(topic, [{ key: null, value: Buffer.from(`line ${i}`) }]);
    const failing = await runCli(["maintenance", "--once", "--topic", topic, "--merge-after-ms", "0"], { env: { ...testEnv(), SEGLOG_BUCKET: uniqueName("no-such-bucket") } });
    expect(failing.code).toBe(1);
    expect((JSON.parse(failing.stdout) as MaintenanceReport).failures).toBeGreaterThan(0);
    expect(failing.stderr).toMatch(/^maintenance: \d+ step\(s\) failed; the last: /);
  });

  it("refuses --url, which it would not use, with a usage error (as dev does)", async () => {
    const maintenance = await runCli(["maintenance", "--once", "--url", api.url], { env: testEnv() });
    expect(maintenance.code).toBe(2);
    expect(maintenance.stderr).toMatch(/maintenance takes no --url: it runs against the storage its environment names/);
    const dev = await runCli(["dev", "--url", api.url]);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toMatch(/dev takes no --url/);
  });
});
