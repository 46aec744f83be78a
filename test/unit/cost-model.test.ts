import { describe, expect, it } from "vitest";
import { estimateCosts, MEASURED_PROFILES, type CostLine } from "../../src/core/cost-model.ts";
import { PRICES } from "../../src/core/pricing.ts";

const usd = (lines: readonly CostLine[], service: string, item: string): number => {
  const line = lines.find((l) => l.service === service && l.item === item);
  if (!line) throw new Error(`no line ${service} / ${item}`);
  return line.usdPerMonth;
};

describe("the cost model (pure arithmetic on the dated price table)", () => {
  /*
   * 1 MB/s of 1,024-byte records in 1 MiB batches, 1 group, 7 days, 1 partition; no framing bytes
   * and no per-MB Lambda time, so that every number is exact:
   *   1,024 records per batch = 1 MiB stored; 1 batch/s; 2,628,000 batches a month (730 h);
   *   2,566.40625 GB a month (2,628,000 MiB / 1,024).
   * Seglog, idempotent profile (1 PUT, 3.0625 WRU, 0 RRU per batch; 1 GET per object read; 1.5 RRU
   * per fetch; 1.0625 WRU per batch removed: the sparse LSI entry is on one item in 16):
   *   S3 PUT        2,628,000 × $0.005/1000                     = $13.14
   *   S3 GET        2,628,000 × $0.0004/1000                    = $1.0512
   *   S3 storage    1 MiB/s × 7 × 86,400 s = 590.625 GB × $0.023 = $13.584375
   *   WRU produce   8,048,250 × $0.625/M                        = $5.03015625
   *   WRU removal   2,792,250 × $0.625/M                        = $1.74515625
   *   RRU produce   0 (the registry read is once per function instance) = $0
   *   fetches       1 partition polled once a second, 1 MiB each = 2,628,000 a month
   *   RRU fetch     3,942,000 × $0.125/M                        = $0.49275
   *   index storage 604,800 items × 400 B = 0.2253056 GB × $0.25 = $0.0563264
   *   Lambda req    2 × 2,628,000 × $0.20/M                     = $1.0512
   *   Lambda produce 40 ms × 1 GB × 2,628,000 = 105,120 GB-s × $0.0000133334 = $1.4016070
   *   Lambda fetch  25 ms × 1 GB × 2,628,000 = 65,700 GB-s × $0.0000133334   = $0.8760044
   *   API produce   1,048,580 B (4-byte frame header + batch) = 3 units of 512 KB: 7,884,000 × $1/M = $7.884
   *   API fetch     1,048,576 B = 2 units: 5,256,000 × $1/M     = $5.256
   *   logs          5,256,000 requests × 1,300 B = 6,832,800,000 B = 6.3635409 GB × $0.50 = $3.1817704
   *   merges        1 MiB is under half of segment.bytes (16 MiB): 16 batches a merged object,
   *                 164,250 merges a month; its item 300 B + 16 sparse points (one a batch) × 8 B
   *                 = 428 B (1 KB)
   *     GET         2,628,000 × $0.0004/1000                    = $1.0512
   *     PUT         164,250 × $0.005/1000                       = $0.82125
   *     WRU         164,250 × (claim 1 + swap 1 + its LSI entry 1 + their removal 2 − the first
   *                 item's own removal 1.0625) = 646,734.375 × $0.625/M = $0.404208984375
   *     Lambda      0 ms per MB here                            = $0
   *   maintenance   8,760 runs a month (every 5 min), 730 of them sweeps (hourly) reading the
   *                 whole decided index: 604,800 batches retained are 37,800 merged items of
   *                 428 B, plus 4,800 recent ones of 265 B (the sweep interval, the 15 min grace
   *                 period and a run interval: 80 min) = 17,450,400 B; the 8,030 light runs read
   *                 16 merged items from the log start, the last claimed run (16) and the 300
   *                 batches since the last run: 6,848 + 316 × 265 = 90,588 B
   *     RRU         (730 × 17,450,400 + 8,030 × 90,588) / 4,096 = 3,287,649.81 × $0.125/M = $0.4109562
   *     LIST        (1 partition + 1 topic + 42,600 objects / 1,000) × 730 sweeps = 32,558 × $0.005/1000 = $0.16279
   *   total                                                     = $57.6009509
   * Kinesis on-demand: 730 × $0.04 = $29.20; in 2,566.40625 GB × $0.08 = $205.3125;
   *   retrieved × $0.04 = $102.65625; extended retention 84.375 GB/day × 6 days × $0.10 = $50.625;
   *   total $387.79375.
   * MSK Serverless: 730 × $0.75 = $547.50; 730 partition-hours × $0.0015 = $1.095; in × $0.10 =
   *   $256.640625; out × $0.05 = $128.3203125; 590.625 GB × $0.10 = $59.0625; total $992.6184375.
   */
  const exact = estimateCosts(
    { mbPerSec: 1, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 },
    { assumptions: { partitions: 1, recordFramingBytes: 0, batchHeaderBytes: 0, msPerMb: 0, readFrom: "api" } },
  );

  it("prices every Seglog request type from the table", () => {
    const l = exact.seglog.lines;
    expect(exact.recordsPerBatch).toBe(1024);
    expect(exact.batchesPerSecond).toBe(1);
    expect(exact.gbPerMonth).toBeCloseTo(2566.40625, 9);
    expect(usd(l, "S3", "PUT (produce)")).toBeCloseTo(13.14, 9);
    expect(usd(l, "S3", "GET (consume)")).toBeCloseTo(1.0512, 9);
    expect(usd(l, "S3", "storage")).toBeCloseTo(13.584375, 9);
    expect(usd(l, "DynamoDB", "write units (produce)")).toBeCloseTo(5.03015625, 9);
    expect(usd(l, "DynamoDB", "write units (index removal)")).toBeCloseTo(1.74515625, 9);
    expect(usd(l, "DynamoDB", "read units (produce)")).toBe(0);
    expect(usd(l, "DynamoDB", "read units (fetch)")).toBeCloseTo(0.49275, 9);
    expect(usd(l, "DynamoDB", "storage (index)")).toBeCloseTo(0.0563264, 6);
    expect(usd(l, "Lambda", "requests (produce)") + usd(l, "Lambda", "requests (fetch)")).toBeCloseTo(1.0512, 9);
    expect(usd(l, "Lambda", "duration arm64 (produce)")).toBeCloseTo(1.401607, 6);
    expect(usd(l, "Lambda", "duration arm64 (fetch)")).toBeCloseTo(0.8760044, 6);
    expect(usd(l, "API Gateway", "HTTP API (produce)")).toBeCloseTo(7.884, 9);
    expect(usd(l, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(5.256, 9);
    expect(usd(l, "CloudWatch", "Logs ingestion (request logs)")).toBeCloseTo(3.1817704, 6);
    expect(usd(l, "S3", "GET (merge)")).toBeCloseTo(1.0512, 9);
    expect(usd(l, "S3", "PUT (merge)")).toBeCloseTo(0.82125, 9);
    expect(usd(l, "DynamoDB", "write units (merge)")).toBeCloseTo(0.404208984375, 9);
    expect(usd(l, "Lambda", "duration arm64 (maintenance merges)")).toBe(0);
    expect(usd(l, "DynamoDB", "read units (maintenance index reads)")).toBeCloseTo(0.4109562, 6);
    expect(usd(l, "S3", "LIST (maintenance)")).toBeCloseTo(0.16279, 9);
    expect(exact.batchesPerMerge).toBe(16);
    expect(exact.seglog.usdPerMonth).toBeCloseTo(57.6009509, 6);
    expect(exact.seglog.usdPerGb).toBeCloseTo(57.6009509 / 2566.40625, 9);
  });

  it("prices every maintenance run as a sweep when sweeps are no further apart than runs", () => {
    // 8,760 sweeps, each reading 1,500 recent batches (5 + 15 + 5 min): 8,760 × 16,575,900 B / 4,096
    // = 35,450,411.13 RRU × $0.125/M; LIST (1 + 1 + 39.3) × 8,760.
    const everyRun = estimateCosts(
      { mbPerSec: 1, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 },
      { assumptions: { partitions: 1, recordFramingBytes: 0, batchHeaderBytes: 0, msPerMb: 0, readFrom: "api", maintenanceSweepIntervalMinutes: 5 } },
    );
    expect(usd(everyRun.seglog.lines, "DynamoDB", "read units (maintenance index reads)")).toBeCloseTo(4.4313014, 6);
    expect(usd(everyRun.seglog.lines, "S3", "LIST (maintenance)")).toBeCloseTo(1.80894, 9);
  });

  it("prices Kinesis on-demand and MSK Serverless for the same workload", () => {
    expect(exact.kinesis.usdPerMonth).toBeCloseTo(387.79375, 9);
    expect(usd(exact.kinesis.lines, "Kinesis", "extended retention (24 h to 7 d)")).toBeCloseTo(50.625, 9);
    expect(exact.msk.usdPerMonth).toBeCloseTo(992.6184375, 9);
    expect(exact.seglogPercentOfKinesis).toBeCloseTo((100 * 57.6009509) / 387.79375, 4);
  });

  it("rounds Kinesis records up to whole KB and bills retention past 7 days as long-term", () => {
    // 1,500-byte records are billed as 2,048; at 1.5 MB/s (1,572,864 B/s) that is 1,048.576
    // records/s × 2,048 B = 0.002 GB/s billed: 5,256 GB a month in ($420.48), 1 group retrieves
    // as much ($210.24); 172.8 GB/day × 6 days extended ($103.68) + × 23 days long-term
    // (3,974.4 GB × $0.023 = $91.4112); plus $29.20 of stream-hours: $855.0112.
    const c = estimateCosts({ mbPerSec: 1.5, recordBytes: 1500, batchBytes: 262_144, consumerGroups: 1, retentionDays: 30 });
    expect(usd(c.kinesis.lines, "Kinesis", "data in")).toBeCloseTo(420.48, 9);
    expect(usd(c.kinesis.lines, "Kinesis", "long-term retention (> 7 d)")).toBeCloseTo(91.4112, 9);
    expect(c.kinesis.usdPerMonth).toBeCloseTo(855.0112, 9);
  });

  it("gives the reference workload's Kinesis bill from the table alone", () => {
    // 10 MB/s: 25,664.0625 GB a month in ($2,053.125) and retrieved by 2 groups ($2,053.125),
    // 843.75 GB/day × 6 days of extended retention ($506.25), 730 stream-hours ($29.20).
    const c = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 });
    expect(c.kinesis.usdPerMonth).toBeCloseTo(4641.7, 9);
    // 256 records of 1,034 bytes + 61: 264,765 bytes stored per batch; 40 batches/s.
    expect(c.storedBatchBytes).toBe(264_765);
    expect(c.batchesPerSecond).toBe(40);
    // 105,120,000 batches × 1 PUT at $0.005 per 1,000.
    expect(usd(c.seglog.lines, "S3", "PUT (produce)")).toBeCloseTo(525.6, 9);
    // 10 partitions × 4 batches/s: one fetch a second each names 4 whole batches (it adds
    // batches while it holds < 1 MiB), which the consumer GETs from S3. With one consumer per
    // partition: an answer of 4 × 1,500 bytes = 1 unit of 512 KB; 2 groups × 10 partitions ×
    // 2,628,000 s = 52,560,000 fetches × $1/M.
    const perPartition = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 }, { assumptions: { consumersPerGroup: 10 } });
    expect(usd(perPartition.seglog.lines, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(52.56, 9);
    // With one consumer per group (the default), it fetches its 10 partitions in one request: an
    // answer of 10 × 4 × 1,500 = 60,000 bytes, 1 unit; 2 groups × 2,628,000 s = 5,256,000 fetches.
    expect(usd(c.seglog.lines, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(5.256, 9);
    expect(usd(c.seglog.lines, "Lambda", "requests (fetch)")).toBeCloseTo(5_256_000 * 0.0000002, 9);
    // Each partition is still read: the same read units either way (52,560,000 × 1.5 × $0.125/M).
    expect(usd(c.seglog.lines, "DynamoDB", "read units (fetch)")).toBeCloseTo(9.855, 9);
    expect(usd(perPartition.seglog.lines, "DynamoDB", "read units (fetch)")).toBeCloseTo(9.855, 9);
    // 4 consumers share 10 partitions (3, 3, 2, 2): 4 fetches a second per group, 21,024,000 a month.
    const four = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 }, { assumptions: { consumersPerGroup: 4 } });
    expect(usd(four.seglog.lines, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(21.024, 9);
    // 250 partitions, one consumer: 100 a request at most, so 3 requests a round (100, 100, 50).
    const wide = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 1, retentionDays: 7 }, { assumptions: { partitions: 250 } });
    expect(usd(wide.seglog.lines, "Lambda", "requests (fetch)")).toBeCloseTo(3 * 2_628_000 * 0.0000002, 9);
    // Through the API the answer carries the 4 batches, 1,059,060 bytes = 3 units.
    const viaApi = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 }, { assumptions: { readFrom: "api" } });
    expect(usd(viaApi.seglog.lines, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(157.68, 9);
    // And the fetch function moves the bytes: 25 ms + 20 ms per MB of 1,059,060 bytes, at 1 GB.
    const gbSeconds = (ms: number) => (52_560_000 * ms) / 1000;
    expect(usd(perPartition.seglog.lines, "Lambda", "duration arm64 (fetch)")).toBeCloseTo(gbSeconds(25) * 0.0000133334, 6);
    expect(usd(viaApi.seglog.lines, "Lambda", "duration arm64 (fetch)")).toBeCloseTo(gbSeconds(25 + (20 * 1_059_060) / 1_048_576) * 0.0000133334, 6);
  });

  it("prices a merge's GETs per object and round: a shared object is read once for the partitions whose runs one round merges", () => {
    // 264,765-byte batches: 63 a merged object (16,680,195 bytes), 8 runs in a round of 128 MiB.
    // One batch an object: 105,120,000 GETs ($42.048). Ten partitions' batches an object:
    // 10,512,000 objects, each read in 2 rounds (8 partitions, then 2): 21,024,000 GETs ($8.4096).
    const w = { mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 };
    expect(usd(estimateCosts(w).seglog.lines, "S3", "GET (merge)")).toBeCloseTo(42.048, 9);
    const shared = estimateCosts(w, { assumptions: { partitions: 10, batchesPerRequest: 10 } });
    expect(usd(shared.seglog.lines, "S3", "GET (merge)")).toBeCloseTo(8.4096, 9);
    // Four partitions' batches an object fit one round: one GET an object (26,280,000, $10.512).
    const four = estimateCosts(w, { assumptions: { partitions: 4, batchesPerRequest: 4 } });
    expect(usd(four.seglog.lines, "S3", "GET (merge)")).toBeCloseTo(10.512, 9);
    // Four of 10 partitions an object: partitions 0–7 are merged together, and hold one of the four
    // for sure; 8–9 hold none with the chance 6/10 × 5/9 = 1/3: 1⅔ GETs an object, 43,800,000.
    const fourOfTen = estimateCosts(w, { assumptions: { partitions: 10, batchesPerRequest: 4 } });
    expect(usd(fourOfTen.seglog.lines, "S3", "GET (merge)")).toBeCloseTo(17.52, 9);
  });

  it("bills each fetch's answer through the API by the batches it carries, whole numbers around the mean", () => {
    // 1,000,000-byte batches: 976 records, 1,009,245 bytes stored; 10,240 records/s over 10
    // partitions is 1.0492 batches per partition per second, one fetch a second: 95.1 % of the
    // fetches carry one batch (2 units of 512 KB), 4.9 % carry two (2,018,490 bytes: 4 units),
    // 2.0984 units a fetch; 52,560,000 fetches × 2.0984 × $1/M = $110.29.
    const c = estimateCosts({ mbPerSec: 10, recordBytes: 1024, batchBytes: 1_000_000, consumerGroups: 2, retentionDays: 7 }, { assumptions: { readFrom: "api" } });
    expect(usd(c.seglog.lines, "API Gateway", "HTTP API (fetch)")).toBeCloseTo(110.2898361, 6);
  });

  it("bills one S3 PUT, Lambda invocation and API Gateway request per produce request, however many batches it carries", () => {
    /*
     * 4 MB/s in 1 MiB batches over 4 partitions, one batch of each per request: 4 batches/s in
     * 1 request/s, 2,628,000 requests and 10,512,000 batches a month (no framing, no per-MB time):
     *   S3 PUT          2,628,000 × $0.005/1000                           = $13.14
     *   Lambda produce  2,628,000 × $0.20/M = $0.5256; 40 ms × 1 GB × 2,628,000 × $0.0000133334 = $1.4016070
     *   API produce     4 × (1,048,576 + 4) = 4,194,320 B = 9 units of 512 KB: 23,652,000 × $1/M = $23.652
     *   WRU produce     10,512,000 × 3.0625 × $0.625/M (still per batch)  = $20.120625
     */
    const w = { mbPerSec: 4, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 };
    const base = { partitions: 4, recordFramingBytes: 0, batchHeaderBytes: 0, msPerMb: 0 };
    const shared = estimateCosts(w, { assumptions: { ...base, batchesPerRequest: 4 } });
    const alone = estimateCosts(w, { assumptions: base });
    const l = shared.seglog.lines;
    expect(shared.produceRequestsPerSecond).toBe(1);
    expect(usd(l, "S3", "PUT (produce)")).toBeCloseTo(13.14, 9);
    expect(usd(l, "Lambda", "requests (produce)")).toBeCloseTo(0.5256, 9);
    expect(usd(l, "Lambda", "duration arm64 (produce)")).toBeCloseTo(1.401607, 6);
    expect(usd(l, "API Gateway", "HTTP API (produce)")).toBeCloseTo(23.652, 9);
    expect(usd(l, "DynamoDB", "write units (produce)")).toBeCloseTo(20.120625, 9);
    expect(usd(alone.seglog.lines, "S3", "PUT (produce)")).toBeCloseTo(4 * 13.14, 9);
    expect(usd(alone.seglog.lines, "DynamoDB", "write units (produce)")).toBeCloseTo(20.120625, 9);
    expect(() => estimateCosts(w, { assumptions: { ...base, batchesPerRequest: 5 } })).toThrow(/batchesPerRequest/);
  });

  it("prices maintenance merging batches under half of segment.bytes, and nothing for larger ones", () => {
    // 4 MiB/s in 1 MiB batches (no framing): 4 batches/s, 10,512,000 a month. segment.bytes 8 MiB:
    // 8 batches a merged object, 1,314,000 merges; the maintenance function reads and writes each
    // 8 MiB once, 16 MiB × 20 ms = 320 ms at 512 MB: 0.16 GB-s a merge.
    const w = { mbPerSec: 4, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 };
    const base = { partitions: 4, recordFramingBytes: 0, batchHeaderBytes: 0, segmentBytes: 8 * 1_048_576 };
    const merging = estimateCosts(w, { assumptions: base });
    expect(merging.batchesPerMerge).toBe(8);
    expect(usd(merging.seglog.lines, "S3", "GET (merge)")).toBeCloseTo(10_512_000 * 0.0000004, 9);
    expect(usd(merging.seglog.lines, "S3", "PUT (merge)")).toBeCloseTo(1_314_000 * 0.000005, 9);
    expect(usd(merging.seglog.lines, "Lambda", "duration arm64 (maintenance merges)")).toBeCloseTo(1_314_000 * 0.16 * 0.0000133334, 6);
    // segment.bytes 2 MiB: a 1 MiB batch is not under half of it, so nothing is merged, and every
    // maintenance run, light or sweep, reads every retained batch's index item: 2,419,200 × 265 B
    // a run (no merge moves the point a light run reads from).
    const whole = estimateCosts(w, { assumptions: { ...base, segmentBytes: 2 * 1_048_576 } });
    expect(whole.batchesPerMerge).toBe(0);
    for (const item of ["GET (merge)", "PUT (merge)"]) expect(usd(whole.seglog.lines, "S3", item)).toBe(0);
    expect(usd(whole.seglog.lines, "DynamoDB", "write units (merge)")).toBe(0);
    expect(usd(whole.seglog.lines, "DynamoDB", "read units (maintenance index reads)")).toBeCloseTo(((8_760 * 2_419_200 * 265) / 4096) * 0.000000125, 6);
    expect(usd(whole.seglog.lines, "DynamoDB", "read units (maintenance index reads)")).toBeGreaterThan(usd(merging.seglog.lines, "DynamoDB", "read units (maintenance index reads)"));
  });

  it("bills one S3 GET per object for each fetch request of a group that reads any of its batches", () => {
    // 4 batches/s in 1 request/s, 2,628,000 objects a month, 1 group: 2,628,000 × $0.0004/1000 = $1.0512 per reader.
    const w = { mbPerSec: 4, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 };
    const base = { partitions: 4, recordFramingBytes: 0, batchHeaderBytes: 0, msPerMb: 0, batchesPerRequest: 4 };
    const gets = (assumptions: object) => {
      const c = estimateCosts(w, { assumptions: { ...base, ...assumptions } });
      return { readers: c.fetchersPerObject, usd: usd(c.seglog.lines, "S3", "GET (consume)") };
    };
    // One consumer reads all 4 partitions in one fetch: one GET of each object.
    expect(gets({})).toEqual({ readers: 1, usd: expect.closeTo(1.0512, 9) });
    // One consumer per partition: each reads its own batch, 4 GETs an object, as if unshared.
    expect(gets({ consumersPerGroup: 4 })).toEqual({ readers: 4, usd: expect.closeTo(4 * 1.0512, 9) });
    // Through the API, the fetch function reads each batch alone.
    expect(gets({ readFrom: "api" })).toEqual({ readers: 4, usd: expect.closeTo(4 * 1.0512, 9) });
    // Objects of 2 batches of the 4 partitions, 2 consumers of 2 each: a consumer misses an
    // object when both its batches are the other's, 1 chance in 6 (2/4 × 1/3); 2 × 5/6 readers.
    const half = estimateCosts({ ...w, mbPerSec: 2 }, { assumptions: { ...base, batchesPerRequest: 2, consumersPerGroup: 2 } });
    expect(half.fetchersPerObject).toBeCloseTo(5 / 3, 12);
    // A measured profile's GETs per object read scale it.
    const measured = estimateCosts(w, { assumptions: base, profile: { ...MEASURED_PROFILES.idempotent, getsPerObjectRead: 1.25 } });
    expect(usd(measured.seglog.lines, "S3", "GET (consume)")).toBeCloseTo(1.25 * 1.0512, 9);
  });

  it("drops the claim write without idempotence", () => {
    const w = { mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 };
    const on = estimateCosts(w);
    const off = estimateCosts(w, { assumptions: { idempotent: false } });
    expect(on.profile).toEqual(MEASURED_PROFILES.idempotent);
    expect(off.profile).toEqual(MEASURED_PROFILES.plain);
    // 105,120,000 batches × 1 WRU × $0.625/M = $65.70 (the epoch read is once per function instance).
    expect(on.seglog.usdPerMonth - off.seglog.usdPerMonth).toBeCloseTo(65.7, 6);
  });

  it("prices with another table when given one", () => {
    const free = { ...PRICES, s3: { ...PRICES.s3, putPerRequest: 0 } };
    const c = estimateCosts({ mbPerSec: 1, recordBytes: 1024, batchBytes: 1_048_576, consumerGroups: 1, retentionDays: 7 }, { prices: free });
    expect(usd(c.seglog.lines, "S3", "PUT (produce)")).toBe(0);
  });

  it("refuses workloads that mean nothing", () => {
    const ok = { mbPerSec: 1, recordBytes: 1024, batchBytes: 1024, consumerGroups: 1, retentionDays: 1 };
    expect(() => estimateCosts({ ...ok, mbPerSec: 0 })).toThrow(RangeError);
    expect(() => estimateCosts({ ...ok, consumerGroups: 1.5 })).toThrow(RangeError);
    expect(() => estimateCosts({ ...ok, retentionDays: 0.5 })).toThrow(RangeError);
  });
});
