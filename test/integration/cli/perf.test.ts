/**
 * `seglog perf produce|consume` against a local API, as Kafka's perf tools are used: the summary
 * lines keep Kafka's shapes and count exactly the records asked for. No timings are asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../../../src/client/admin.ts";
import type { LocalApi } from "../../../src/local/server.ts";
import { runCli } from "../../helpers/cli.ts";
import { startTestApi, testGroups, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

let api: LocalApi;
beforeAll(async () => {
  const { log } = testLog();
  const groups = testGroups(log, { sessionTimeoutMs: 1500, heartbeatIntervalMs: 250, takeoverMarginMs: 100, maxClockSkewMs: 25, partitionCacheMs: 0 });
  api = await startTestApi({ log, groups });
});
afterAll(() => api.close());

const NUMBER = String.raw`\d+(?:\.\d+)?`;
/** kafka-producer-perf-test's final line. */
const PRODUCE_SUMMARY = new RegExp(
  String.raw`^(\d+) records sent, ${NUMBER} records/sec \(${NUMBER} MB/sec\), ${NUMBER} ms avg latency, ${NUMBER} ms max latency, ` +
    String.raw`\d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`,
);
const STEADY_SUMMARY = new RegExp(PRODUCE_SUMMARY.source.replace(" records sent", " steady state records sent"));
const CONSUME_HEADER =
  "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
const TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}`;
const CONSUME_ROW = new RegExp(
  String.raw`^(${TIME}), (${TIME}), (${NUMBER}), ${NUMBER}, (\d+), ${NUMBER}, \d+, \d+, ${NUMBER}, ${NUMBER}$`,
);

const lastLine = (out: string) => out.trim().split("\n").at(-1) ?? "";

describe("seglog perf (kafka-producer-perf-test and kafka-consumer-perf-test)", () => {
  it("sends N records and prints Kafka's summary line, then reads exactly N back", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf");
    expect((await runCli(["topics", "--create", "--topic", topic, "--partitions", "3"], { env })).code).toBe(0);

    const produced = await runCli(
      ["perf", "produce", "--topic", topic, "--num-records", "1500", "--record-size", "100", "--throughput", "-1", "--batch-bytes", "16384", "--linger-ms", "2", "--concurrency", "2"],
      { env },
    );
    expect(produced.stderr).toBe("");
    expect(produced.code).toBe(0);
    const summary = lastLine(produced.stdout).match(PRODUCE_SUMMARY);
    expect(summary?.[1]).toBe("1500");

    const described = await runCli(["topics", "--describe", "--topic", topic], { env });
    const watermarks = [...described.stdout.matchAll(/HighWatermark: (\d+)/g)].map((m) => Number(m[1]));
    expect(watermarks.reduce((a, b) => a + b, 0)).toBe(1500);

    const consumed = await runCli(["perf", "consume", "--topic", topic, "--messages", "1500", "--timeout-ms", "20000"], { env });
    expect(consumed.code).toBe(0);
    const [header, row] = consumed.stdout.trim().split("\n");
    expect(header).toBe(CONSUME_HEADER);
    const fields = row?.match(CONSUME_ROW);
    expect(fields?.[4]).toBe("1500");
    expect(fields?.[3]).toBe((150_000 / 1024 / 1024).toFixed(4)); // record bytes, in Kafka's MB of 2^20
  });

  it("prints Kafka's --print-metrics table after the summary: the consumer's fetches, bytes and S3 GETs, and each tool's CPU time", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-metrics");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "2"], { env });
    const produced = await runCli(["perf", "produce", "--topic", topic, "--num-records", "400", "--record-size", "100", "--throughput", "-1", "--print-metrics"], { env });
    expect(produced.code).toBe(0);
    const produceLines = produced.stdout.trim().split("\n");
    expect(produceLines.at(-3)).toMatch(PRODUCE_SUMMARY);
    expect(produceLines.at(-2)).toMatch(/^Metric Name +Value$/);
    expect(Number(produceLines.at(-1)?.match(/^seglog-client-metrics:process-cpu-ms +(\d+(?:\.\d)?)$/)?.[1])).toBeGreaterThan(0);

    const consumed = await runCli(["perf", "consume", "--topic", topic, "--messages", "400", "--print-metrics"], { env });
    expect(consumed.code).toBe(0);
    const metrics = Object.fromEntries(
      consumed.stdout
        .trim()
        .split("\n")
        .slice(3)
        .map((l) => l.split(/ +/)),
    );
    expect(Number(metrics["consumer-fetch-manager-metrics:fetch-total"])).toBeGreaterThan(0);
    expect(Number(metrics["consumer-fetch-manager-metrics:bytes-fetched-total"])).toBeGreaterThan(400 * 100);
    expect(Number(metrics["seglog-consumer-metrics:segment-gets-total"])).toBeGreaterThan(0);
    expect(Number(metrics["seglog-client-metrics:process-cpu-ms"])).toBeGreaterThan(0);
    expect(consumed.stdout.trim().split("\n")[2]).toMatch(/^Metric Name +Value$/);
  });

  it("paces sends with --throughput and takes Kafka's --producer-props", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-paced");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "1"], { env });
    const produced = await runCli(
      ["perf", "produce", "--topic", topic, "--num-records", "200", "--record-size", "10", "--throughput", "1000", "--producer-props", "enable.idempotence=false", "linger.ms=1"],
      { env },
    );
    expect(produced.code).toBe(0);
    expect(lastLine(produced.stdout).match(PRODUCE_SUMMARY)?.[1]).toBe("200");
    const consumed = await runCli(["perf", "consume", "--topic", topic, "--messages", "200", "--hide-header"], { env });
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.trim().split("\n")).toHaveLength(1);
    expect(lastLine(consumed.stdout).match(CONSUME_ROW)?.[4]).toBe("200");
  });

  it("spreads records over the partitions with partitioner.class RoundRobinPartitioner", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-robin");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "3"], { env });
    const produced = await runCli(
      ["perf", "produce", "--topic", topic, "--num-records", "300", "--record-size", "10", "--throughput", "-1",
        "--producer-props", "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner"],
      { env },
    );
    expect(produced.code).toBe(0);
    const admin = new Admin({ url: api.url });
    const ends = await Promise.all([0, 1, 2].map((p) => admin.offsetFor(topic, p, "latest")));
    expect(ends.map((e) => e.offset)).toEqual([100, 100, 100]);
    const bad = await runCli(["perf", "produce", "--topic", topic, "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props", "partitioner.class=random"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("partitioner.class must be sticky, round-robin");
    const inherited = await runCli(["perf", "produce", "--topic", topic, "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props", "partitioner.class=toString"], { env });
    expect(inherited.code).toBe(2);
  });

  it("reports the records after --warmup-records apart, as Kafka's tool does, and takes buffer.memory", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-warm");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "2"], { env });
    const produced = await runCli(
      ["perf", "produce", "--topic", topic, "--num-records", "1000", "--record-size", "100", "--throughput", "-1", "--warmup-records", "300",
        "--producer-props", "buffer.memory=20000", "client.id=perf-1", "--print-metrics"],
      { env },
    );
    // A Kafka setting Seglog's producer does not have is named and ignored, as Kafka's producer does.
    expect(produced.stderr).toMatch(/^WARN --producer-props: 'client\.id' is not a setting of Seglog's producer \(it takes [^)]*\); ignored\n$/);
    expect(produced.code).toBe(0);
    const lines = produced.stdout.trim().split("\n");
    expect(lines[0]).toBe("Warmup first 300 records. Steady state results will print after the complete test summary.");
    expect(lines).toContain("Beginning steady state.");
    // The whole run, then the records sent after the warmup, labelled so that a script tells them apart.
    expect(lines.filter((l) => PRODUCE_SUMMARY.test(l)).map((l) => l.match(PRODUCE_SUMMARY)?.[1])).toEqual(["1000"]);
    expect(lines.filter((l) => STEADY_SUMMARY.test(l)).map((l) => l.match(STEADY_SUMMARY)?.[1])).toEqual(["700"]);
    const metrics = Object.fromEntries(lines.slice(-2).map((l) => l.split(/ +/)));
    expect(Number(metrics["seglog-client-metrics:steady-state-process-cpu-ms"])).toBeGreaterThan(0);
    expect(Number(metrics["seglog-client-metrics:steady-state-process-cpu-ms"])).toBeLessThanOrEqual(Number(metrics["seglog-client-metrics:process-cpu-ms"]));

    // A buffer of 200 records' bytes made sends wait for room; every record still landed once.
    const admin = new Admin({ url: api.url });
    const ends = await Promise.all([0, 1].map((p) => admin.offsetFor(topic, p, "latest")));
    expect(ends.reduce((n, e) => n + e.offset, 0)).toBe(1000);

    const [tooMany, badBuffer, failed] = await Promise.all([
      runCli(["perf", "produce", "--topic", topic, "--num-records", "10", "--record-size", "1", "--throughput", "-1", "--warmup-records", "10"], { env }),
      runCli(["perf", "produce", "--topic", topic, "--num-records", "10", "--record-size", "1", "--throughput", "-1", "--producer-props", "buffer.memory=0"], { env }),
      runCli(["perf", "produce", "--topic", uniqueName("missing"), "--num-records", "100", "--record-size", "1", "--throughput", "-1", "--warmup-records", "50", "--print-metrics"], { env }),
    ]);
    // A run that failed has no steady state to report.
    expect(failed.code).toBe(1);
    expect(failed.stdout).not.toMatch(/steady state records sent|steady-state-process-cpu-ms/);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain("--warmup-records must be less than --num-records");
    expect(badBuffer.code).toBe(2);
  });

  it("consumes as a member of a consumer group with --group", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-group");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "2"], { env });
    await runCli(["perf", "produce", "--topic", topic, "--num-records", "300", "--record-size", "50", "--throughput", "-1"], { env });
    const consumed = await runCli(["perf", "consume", "--topic", topic, "--messages", "300", "--group", uniqueName("g"), "--timeout-ms", "20000"], { env });
    expect(consumed.code).toBe(0);
    expect(lastLine(consumed.stdout).match(CONSUME_ROW)?.[4]).toBe("300");
  });

  it("warns and exits 1 when fewer records arrive than asked for within --timeout-ms", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("perf-short");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "1"], { env });
    await runCli(["perf", "produce", "--topic", topic, "--num-records", "5", "--record-size", "10", "--throughput", "-1"], { env });
    const consumed = await runCli(["perf", "consume", "--topic", topic, "--messages", "10", "--timeout-ms", "300"], { env });
    expect(consumed.code).toBe(1);
    expect(lastLine(consumed.stdout).match(CONSUME_ROW)?.[4]).toBe("5");
    expect(consumed.stderr).toContain("WARNING: Exiting before consuming the expected number of messages");
  });

  it("refuses bad command lines with a usage error", async () => {
    const env = { SEGLOG_URL: api.url };
    const [missing, zero, which] = await Promise.all([
      runCli(["perf", "produce", "--topic", "t", "--num-records", "10", "--record-size", "10"], { env }),
      runCli(["perf", "produce", "--topic", "t", "--num-records", "10", "--record-size", "10", "--throughput", "0"], { env }),
      runCli(["perf", "load"], { env }),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--throughput is required");
    expect(zero.code).toBe(2);
    expect(which.code).toBe(2);
    expect(which.stderr).toContain("perf needs 'produce' or 'consume'");
  });
});

describe("seglog cost", () => {
  it("prints the three monthly bills and Seglog's share of Kinesis on-demand", async () => {
    const reference = ["cost", "--mb-per-sec", "10", "--record-bytes", "1024", "--batch-bytes", "262144", "--consumer-groups", "2", "--retention-days", "7", "--json"];
    // Each its own process, all at once: what each prints is checked below.
    const [out, json, bad, aloneOut, sharedOut, tooMany, overRequest, unmergedOut, badSegment] = await Promise.all([
      runCli(["cost", "--mb-per-sec", "10", "--record-bytes", "1024", "--batch-bytes", "262144", "--consumer-groups", "2", "--retention-days", "7"]),
      runCli(["cost", "--mb-per-sec", "1", "--record-bytes", "100", "--batch-bytes", "65536", "--consumer-groups", "1", "--retention-days", "1", "--json"]),
      runCli(["cost", "--mb-per-sec", "0", "--record-bytes", "1", "--batch-bytes", "1", "--consumer-groups", "1", "--retention-days", "1"]),
      runCli(reference),
      runCli([...reference, "--batches-per-request", "10"]),
      runCli([...reference, "--batches-per-request", "11"]),
      runCli([...reference, "--partitions", "100", "--batches-per-request", "17"]),
      runCli([...reference, "--segment-bytes", "524288"]),
      runCli([...reference, "--segment-bytes", "1000"]),
    ]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("Kinesis Data Streams on-demand");
    expect(out.stdout).toContain("MSK Serverless");
    // Kinesis on-demand at 10 MB/s, 2 groups, 7 days: $4,641.70 (test/unit/cost-model.test.ts).
    expect(out.stdout).toMatch(/\$4,641\.70\/month/);
    expect(out.stdout).toMatch(/^Seglog costs \d+\.\d% of Kinesis Data Streams on-demand and \d+\.\d% of MSK Serverless/m);
    expect(JSON.parse(json.stdout).kinesis.system).toBe("Kinesis Data Streams on-demand");
    expect(bad.code).toBe(2);

    const alone = JSON.parse(aloneOut.stdout);
    const shared = JSON.parse(sharedOut.stdout);
    expect(shared.produceRequestsPerSecond * 10).toBeCloseTo(alone.produceRequestsPerSecond, 9);
    expect(shared.seglog.usdPerMonth).toBeLessThan(alone.seglog.usdPerMonth);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/at most the number of partitions/);
    expect(overRequest.code).toBe(2);
    expect(overRequest.stderr).toMatch(/at most 4194304: the Producer sends at most that much in one request/);

    // segment.bytes at most twice the batch: maintenance merges none of them, and then every run
    // reads an index item per retained batch, which costs more than the merges would.
    const unmerged = JSON.parse(unmergedOut.stdout);
    expect(alone.batchesPerMerge).toBe(63);
    expect(unmerged.batchesPerMerge).toBe(0);
    expect(unmerged.seglog.usdPerMonth).toBeGreaterThan(alone.seglog.usdPerMonth);
    expect(badSegment.code).toBe(2);
    expect(badSegment.stderr).toMatch(/--segment-bytes: Invalid value for segment.bytes/);
  });
});
