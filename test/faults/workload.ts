/**
 * The fault workload (docs/fault-testing.md): the real log engine and group service behind a
 * local HTTP API whose every request is a "Lambda invocation" on one of a few function
 * instances; idempotent and plain SDK Producers; consumer groups whose SDK members join, leave
 * and die; tail readers; maintenance — all for a bounded time under one seeded fault plan on
 * the instances' SDK clients. Then the faults stop, everything drains, a fault-free reader reads
 * every partition, and the checker judges the history.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { GroupConsumer } from "../../src/client/group-consumer.ts";
import { Producer } from "../../src/client/producer.ts";
import { isSeglogError } from "../../src/core/errors.ts";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService } from "../../src/groups/service.ts";
import { routes } from "../../src/http/app.ts";
import type { ApiGatewayResult } from "../../src/http/event.ts";
import type { FunctionName } from "../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../src/local/server.ts";
import type { Log } from "../../src/log/log.ts";
import type { MaintenanceReport } from "../../src/log/maintenance.ts";
import { decodeStored } from "../../src/log/read.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { Registry } from "../../src/storage/registry.ts";
import {
  FaultPlan,
  Invocation,
  attachPlan,
  currentInvocation,
  mulberry32,
  rewriteRequests,
  streamSeed,
  type FaultPlanOptions,
  type RequestInfo,
  type Step,
} from "../helpers/faults.ts";
import { handlersFor, testLog, type Invoke } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";
import { connectionFailed, interceptS3Gets, s3Error } from "../helpers/transport.ts";
import { checkHistory, type CheckResult, type FinalPartition, type History, type HistoryEvent, type StoredRecord } from "./checker.ts";

export interface WorkloadOptions {
  readonly seed: number;
  /** How long producers produce under faults; the drain comes after. */
  readonly seconds: number;
  readonly rates: FaultPlanOptions["rates"];
  readonly steps?: FaultPlanOptions["steps"];
  /** Crash hangs and stalls last up to this long. @default 800 */
  readonly maxHoldMs?: number;
  /**
   * An invocation of the produce, admin or groups function still running after this long is
   * stopped (Lambda's timeout; production: 10 s for produce). @default 3000
   */
  readonly functionTimeoutMs?: number;
  /** The fetch and maintenance functions' timeout (production: 28 s for fetch). @default 8000 */
  readonly fetchTimeoutMs?: number;
  /** Must exceed the produce timeout plus the longest stall, as in production (30 s > 10 s). @default 5000 */
  readonly abortTimeoutMs?: number;
  /** @default 4 */
  readonly partitions?: number;
  /** @default { idempotent: 2, plain: 1 } */
  readonly producers?: { readonly idempotent: number; readonly plain: number };
  /** Member slots per group. @default [3, 2] */
  readonly groups?: readonly number[];
  /** How long the groups may take to catch up once the faults stop. @default 30 s + twice the abort timeout */
  readonly drainTimeoutMs?: number;
  /** How long a member stays before it leaves or is killed, uniform in [min, max). @default [1500, 6500] */
  readonly memberLifetimeMs?: readonly [number, number];
  /** The topic's `retention.ms`. @default 75 % of the time under faults (at least 5 s) */
  readonly retentionMs?: number;
  /** Function instances the invocations are spread over. @default 2 */
  readonly instances?: number;
  /** A deliberately broken Seglog: rewrites requests before they are sent. */
  readonly mutate?: (req: RequestInfo, step: Step) => Record<string, unknown> | undefined;
}

export interface WorkloadStats {
  readonly seed: number;
  readonly seconds: number;
  /** SDK requests made inside invocations, and the faults injected into them. */
  readonly requests: number;
  readonly requestsByStep: Record<string, number>;
  readonly faults: { readonly byKind: Record<string, number>; readonly byStep: Record<string, number> };
  readonly invocations: Record<"total" | "ok" | "crashed" | "timeout" | "abandoned" | "error", number>;
  readonly produced: { readonly attempted: number; readonly acked: number; readonly failed: number; readonly producers: number };
  readonly consumed: Record<string, { readonly processed: number; readonly distinct: number }>;
  readonly members: { readonly joined: number; readonly left: number; readonly killed: number };
  readonly commits: number;
  /** Commits that landed after their caller gave up (the fence and the commit order must refuse stale ones). */
  readonly lateCommits: number;
  readonly tail: { readonly fetches: number; readonly records: number; readonly errors: number };
  /** Members read from S3 themselves (`readFrom: "storage"`) or through the API, by seed; the
   * S3 GETs they made and the faults injected into them while the plan was active. */
  readonly memberReads: { readonly fromStorage: number; readonly throughApi: number; readonly s3Gets: number; readonly s3Faults: number };
  readonly maintenance: {
    readonly runs: number;
    /** Of them, runs that swept. */
    readonly sweeps: number;
    readonly segmentsDeleted: number;
    readonly orphansDeleted: number;
    readonly sharedObjectsDeleted: number;
    readonly reservationsAborted: number;
    readonly merges: number;
    readonly segmentsMerged: number;
    readonly failures: number;
  };
  readonly final: { readonly records: number; readonly logStart: number; readonly highWatermark: number };
  readonly drainMs: number;
  /** Milliseconds per drain phase. */
  readonly phases: Record<string, number>;
  /** Invocation durations per function, as the caller saw them. */
  readonly latencyMs: Record<string, { readonly p50: number; readonly p90: number; readonly max: number }>;
}

export interface WorkloadResult {
  readonly history: History;
  readonly check: CheckResult;
  readonly plan: FaultPlan;
  readonly stats: WorkloadStats;
}

interface Instance {
  readonly log: Log;
  readonly invoke: Invoke;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: "crashed" | "abandoned" | "timeout" | "error"; readonly error?: unknown };

const SESSION_TIMEOUT_MS = 2000;
const FETCH_MAX_BYTES = 32_768;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A record's value: its payload id, then padding (bigger batches, so merges fill segment.bytes sooner). */
const PADDING = " ".padEnd(300, "·");
const payloadOf = (v: Uint8Array | null) => Buffer.from(v ?? new Uint8Array()).toString("utf8").split(" ")[0] ?? "";

/** What API Gateway answers when the function crashed (502) or did not answer in time (504). */
const gateway = (statusCode: 502 | 504): ApiGatewayResult => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ message: statusCode === 502 ? "Internal server error" : "Endpoint request timed out" }),
  isBase64Encoded: false,
});

/** Short, so that replaced segments can be deleted within a run: the merge grace period must
 * outlast a cached index entry, the fetch that used it, and the segment URL it gave out. */
const INDEX_CACHE_MS = 2000;
const SEGMENT_URL_EXPIRY_S = 5;

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const { seed, seconds } = options;
  const maxHoldMs = options.maxHoldMs ?? 800;
  const functionTimeoutMs = options.functionTimeoutMs ?? 3000;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 8000;
  const abortTimeoutMs = options.abortTimeoutMs ?? 5000;
  const partitions = options.partitions ?? 4;
  const random = (name: string) => mulberry32(streamSeed(seed, name));
  const plan = new FaultPlan({ seed, rates: options.rates, maxHoldMs, ...(options.steps ? { steps: options.steps } : {}) });
  const events: HistoryEvent[] = [];
  const record = (e: HistoryEvent) => void events.push(e);
  const table = testEnv()["SEGLOG_TABLE"] ?? "seglog";

  const topic = uniqueName(`faults-${seed}`);
  const observer = testLog({ abortTimeoutMs });
  const retentionMs = options.retentionMs ?? Math.max(5000, Math.round(seconds * 750));
  // The smallest merged segments, so that merges happen within seconds.
  await observer.log.createTopic({ name: topic, partitions, config: { "retention.ms": retentionMs, "segment.bytes": 16_384 } });

  // Offset commits are recorded as they land in DynamoDB, whether or not the member hears back,
  // with the lease epoch known when they left: the highest epoch a landed lease write had set.
  type LeaseUpdate = {
    Key: Record<string, { S: string }>;
    UpdateExpression: string;
    ConditionExpression?: string;
    ExpressionAttributeValues?: Record<string, { S?: string; N?: string }>;
  };
  const leaseOf = (input: LeaseUpdate) => {
    const [, group] = /^G#(.*)$/.exec(input.Key["pk"]?.S ?? "") ?? [];
    const [, leaseTopic, partition] = /^L#(.*)#(\d+)$/.exec(input.Key["sk"]?.S ?? "") ?? [];
    return group === undefined || leaseTopic !== topic ? undefined : { group, partition: Number(partition) };
  };
  const valueOf = (input: LeaseUpdate, re: RegExp) =>
    input.ExpressionAttributeValues?.[re.exec(`${input.UpdateExpression} ${input.ConditionExpression ?? ""}`)?.[1] ?? ""];
  const leaseEpochs = new Map<string, number>();
  const epochAtSend = new WeakMap<RequestInfo, number>();
  const eventsAtSend = new WeakMap<RequestInfo, number>();
  const hooks = {
    sending: (req: RequestInfo, step: Step) => {
      const lease = step === "offset-commit" ? leaseOf(req.input as LeaseUpdate) : undefined;
      if (lease !== undefined) eventsAtSend.set(req, events.length);
      const known = lease && leaseEpochs.get(`${lease.group}/${lease.partition}`);
      if (known !== undefined) epochAtSend.set(req, known);
    },
    landed: (req: RequestInfo, step: Step, late: boolean, output: unknown) => {
      const input = req.input as LeaseUpdate;
      const lease = step === "offset-commit" || step === "lease-take" || step === "lease-write" ? leaseOf(input) : undefined;
      if (lease === undefined) return;
      if (step !== "offset-commit") {
        const epoch = Number(valueOf({ ...input, ConditionExpression: "" }, /#epoch = (:v\d+)/)?.N);
        const key = `${lease.group}/${lease.partition}`;
        if (Number.isSafeInteger(epoch)) leaseEpochs.set(key, Math.max(epoch, leaseEpochs.get(key) ?? 0));
        return;
      }
      const atSend = epochAtSend.get(req);
      const sentAt = eventsAtSend.get(req);
      // The checkpoint this commit replaced, in the order storage applied them (UPDATED_OLD, below).
      const old = (output as { Attributes?: Record<string, { N?: string }> } | undefined)?.Attributes;
      record({
        type: "commit",
        ...lease,
        member: valueOf(input, /#owner = (:v\d+)/)?.S ?? "?",
        epoch: Number(valueOf(input, /#epoch = (:v\d+)/)?.N),
        offset: Number(valueOf(input, /#checkpoint = (:v\d+)/)?.N),
        late,
        ...(atSend === undefined ? {} : { leaseEpochAtSend: atSend }),
        ...(sentAt === undefined ? {} : { eventsAtSend: sentAt }),
        ...(old === undefined ? {} : { replaced: old["checkpoint"]?.N === undefined ? null : Number(old["checkpoint"].N) }),
      });
    },
  };

  const instances: Instance[] = Array.from({ length: options.instances ?? 2 }, () => {
    const { log, dynamo, s3 } = testLog({ abortTimeoutMs, pollIntervalMs: 200, indexCacheMs: INDEX_CACHE_MS, segmentUrlExpirySeconds: SEGMENT_URL_EXPIRY_S });
    if (options.mutate) {
      rewriteRequests(dynamo, options.mutate);
      rewriteRequests(s3, options.mutate);
    }
    // Offset commits answer the checkpoint they replaced: the checker then knows the order
    // storage applied them in, which the order of their answers does not say.
    rewriteRequests(dynamo, (req, step) => (step === "offset-commit" ? { ...req.input, ReturnValues: "UPDATED_OLD" } : undefined));
    attachPlan(dynamo, "dynamodb", plan, hooks);
    attachPlan(s3, "s3", plan);
    const groups = new GroupService({
      store: new DynamoGroupStore({ client: dynamo, tableName: table }),
      catalog: new LogTopicCatalog(log),
      heartbeatIntervalMs: 600,
      takeoverMarginMs: 100,
      maxClockSkewMs: 25,
      partitionCacheMs: 1000,
    });
    return { log, dynamo, s3, invoke: handlersFor({ log, groups }) };
  });

  // ---- invocations ----
  const invocations = { total: 0, ok: 0, crashed: 0, timeout: 0, abandoned: 0, error: 0 };
  const inflight = new Set<Promise<unknown>>();
  const durations: Record<string, number[]> = {};
  const routing = random("routing");
  async function invoke<T>(fn: string, timeoutMs: number, body: (instance: Instance) => Promise<T>): Promise<Outcome<T>> {
    const invocation = new Invocation(`${fn}#${++invocations.total}`);
    const instance = instances[Math.floor(routing() * instances.length)] as Instance;
    const work = currentInvocation.run(invocation, () => body(instance));
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    inflight.add(settled);
    void settled.then(() => inflight.delete(settled));
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<Outcome<T>>((resolve) => {
      invocation.onEnd((why) => resolve({ ok: false, why }));
      timer = setTimeout(() => {
        resolve({ ok: false, why: "timeout" });
        invocation.crash(); // Lambda stops the runtime: nothing more leaves it
      }, timeoutMs);
    });
    const finished = work.then(
      (value): Outcome<T> => (invocation.crashed ? { ok: false, why: "crashed" } : { ok: true, value }),
      (error: unknown): Outcome<T> => (invocation.crashed ? { ok: false, why: "crashed" } : { ok: false, why: "error", error }),
    );
    const startedAt = performance.now();
    try {
      const outcome = await Promise.race([finished, ended]);
      invocations[outcome.ok ? "ok" : outcome.why]++;
      (durations[fn] ??= []).push(performance.now() - startedAt);
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }
  const lambda = (fn: FunctionName) => async (event: unknown): Promise<ApiGatewayResult> => {
    const outcome = await invoke(fn, fn === "fetch" ? fetchTimeoutMs : functionTimeoutMs, (instance) => instance.invoke(fn, event));
    if (outcome.ok) return outcome.value;
    return gateway(outcome.why === "crashed" || outcome.why === "error" ? 502 : 504);
  };
  const handlers = { admin: lambda("admin"), produce: lambda("produce"), fetch: lambda("fetch"), groups: lambda("groups") };
  const apis = new Set<LocalApi>();
  const newApi = async () => {
    const api = await startLocalApi({ port: 0, routes: routes as never, handlers });
    apis.add(api);
    return api;
  };
  const closeApi = async (api: LocalApi) => {
    apis.delete(api);
    await api.close();
  };

  // ---- producers ----
  let producing = true;
  const sends = new Set<Promise<void>>();
  const produced = { attempted: 0, acked: 0, failed: 0, producers: 0 };
  const producerApi = await newApi();
  const clientRetries = { maxAttempts: 50, initialBackoffMs: 20, maxBackoffMs: 500 };
  async function produceLoop(base: string, idempotent: boolean): Promise<void> {
    const rand = random(`producer:${base}`);
    const closing: Promise<void>[] = [];
    for (let generation = 0; producing; generation++) {
      const label = `${base}.${generation}`;
      const producer = new Producer({ url: producerApi.url, lingerMs: 10 + Math.floor(rand() * 40), enableIdempotence: idempotent, ...clientRetries });
      produced.producers++;
      const mine = new Set<Promise<void>>();
      let broken = false;
      for (let n = 0; producing && !broken; ) {
        for (let burst = 1 + Math.floor(rand() * 4); burst > 0; burst--) {
          const payload = `${label}-${n++}`;
          const partition = Math.floor(rand() * partitions);
          record({ type: "attempt", producer: label, idempotent, partition, payload });
          produced.attempted++;
          const sent = producer.send(topic, { partition, value: payload + PADDING }).then(
            (m) => {
              produced.acked++;
              record({ type: "ack", producer: label, payload, partition: m.partition, offset: m.offset });
            },
            (e: unknown) => {
              produced.failed++;
              broken = true; // its sequence numbers are spoiled: a new producer takes over
              record({ type: "fail", producer: label, payload, error: String((e as Error).message ?? e).slice(0, 200) });
            },
          );
          sends.add(sent);
          mine.add(sent);
          void sent.then(() => (sends.delete(sent), mine.delete(sent)));
        }
        await sleep(30 + rand() * 120);
        // A bounded backlog: on a slow machine the producers slow down rather than queue for long.
        while (producing && mine.size > 12) await sleep(20);
      }
      closing.push(producer.close().catch(() => undefined));
    }
    await Promise.all(closing);
  }

  // ---- consumer groups ----
  const groupNames = (options.groups ?? [3, 2]).map((_, i) => `${topic}-g${i}`);
  let churning = true;
  const members = { joined: 0, left: 0, killed: 0 };
  const consumed = Object.fromEntries(groupNames.map((g) => [g, { processed: 0, distinct: new Set<string>() }]));
  const live = new Set<{ consumer: GroupConsumer; api: LocalApi; done: Promise<void> }>();
  const dying: Promise<unknown>[] = [];
  async function startMember(group: string, name: string, rand: () => number) {
    const api = await newApi();
    const readFrom = rand() < 0.5 ? "storage" : "api";
    memberReads[readFrom === "storage" ? "fromStorage" : "throughApi"]++;
    const consumer: GroupConsumer = new GroupConsumer({
      url: api.url,
      transport: memberTransport,
      groupId: group,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      autoOffsetReset: "earliest",
      maxWaitMs: 300,
      // A fetch reads every small segment it names: on two shared cores, a 1 MiB fetch of 400-byte
      // batches outlasts the fetch function's timeout (reading through the API), and its retries would only add load.
      maxBytes: FETCH_MAX_BYTES,
      readFrom,
      autoCommitIntervalMs: [0, 250, 1000][Math.floor(rand() * 3)] as number,
      maxAttempts: 8,
      initialBackoffMs: 50,
      maxBackoffMs: 500,
    });
    consumer.subscribe([topic]);
    const stats = consumed[group] as (typeof consumed)[string];
    const done = consumer
      .run({
        eachRecord: async (r) => {
          const payload = payloadOf(r.value);
          record({ type: "process", group, member: `${name}/${consumer.memberId ?? "?"}`, epoch: consumer.leaseEpoch(r), partition: r.partition, offset: r.offset, payload });
          stats.processed++;
          stats.distinct.add(payload);
          if (rand() < 0.02) await sleep(rand() * 50); // now and then a slow record
        },
      })
      .catch((e: unknown) => record({ type: "note", text: `${name} stopped: ${String(e)}` }));
    members.joined++;
    record({ type: "note", text: `${name} starts` });
    return { consumer, api, done };
  }
  async function memberSlot(group: string, slot: number): Promise<void> {
    const rand = random(`member:${group}:${slot}`);
    for (let generation = 0; ; generation++) {
      const member = await startMember(group, `${group}/${slot}.${generation}`, rand);
      live.add(member);
      const [shortest, longest] = options.memberLifetimeMs ?? [1500, 6500];
      const until = Date.now() + shortest + rand() * (longest - shortest);
      while (churning && Date.now() < until) await sleep(100);
      if (!churning) return; // the member stays for the drain
      live.delete(member);
      if (rand() < 0.3) {
        // Killed: cut off from the API (no leave, no heartbeat), then stopped a little later.
        members.killed++;
        record({ type: "note", text: `${group}/${slot}.${generation} is killed` });
        await closeApi(member.api);
        const lingerMs = rand() * 3000;
        dying.push(sleep(lingerMs).then(() => member.consumer.close()).then(() => member.done));
      } else {
        members.left++;
        record({ type: "note", text: `${group}/${slot}.${generation} leaves` });
        await member.consumer.close();
        await member.done;
        await closeApi(member.api);
      }
      await sleep(rand() * 500);
    }
  }

  // ---- tail readers: one sequential reader per partition, straight on the log engine ----
  const tail = { fetches: 0, records: 0, errors: 0 };
  /** Where each reader stops (the final high watermark), and whether to stop now whatever the position. */
  const stopAt = new Map<number, number>();
  let readersGiveUp = false;
  async function tailReader(partition: number): Promise<void> {
    let position = 0;
    while (!readersGiveUp && position < (stopAt.get(partition) ?? Infinity)) {
      const from = position;
      const outcome = await invoke("fetch", fetchTimeoutMs, (instance) => instance.log.fetch(topic, partition, { offset: from, maxWaitMs: 200, maxBytes: FETCH_MAX_BYTES }));
      if (outcome.ok) {
        const r = outcome.value;
        const records: StoredRecord[] = [];
        for (const b of r.batches) for (const x of decodeStored(b.bytes)) if (x.offset >= from) records.push({ offset: x.offset, payload: payloadOf(x.value) });
        record({ type: "fetch", reader: `tail-${partition}`, partition, from, next: r.nextOffset, highWatermark: r.highWatermark, records });
        tail.fetches++;
        tail.records += records.length;
        position = r.nextOffset;
        continue;
      }
      tail.errors++;
      if (outcome.why === "error" && isSeglogError(outcome.error) && outcome.error.kind === "OffsetOutOfRange") {
        const start = (await observer.log.offsetFor(topic, partition, "earliest")).offset;
        record({ type: "note", text: `tail-${partition} out of range at ${from}; log start ${start}` });
        if (start > position) position = start;
      }
      await sleep(50);
    }
  }

  // ---- maintenance ----
  let maintaining = true;
  const maintenance = { runs: 0, sweeps: 0, segmentsDeleted: 0, orphansDeleted: 0, sharedObjectsDeleted: 0, reservationsAborted: 0, merges: 0, segmentsMerged: 0, failures: 0 };
  async function maintenanceLoop(): Promise<void> {
    const rand = random("maintenance");
    while (maintaining) {
      // Orphans older than a produce can take to commit; replaced segments kept longer than a fetch
      // can take, and than a member can still be reading them by a URL a fetch gave it. Light runs
      // and sweeps interleave, as the scheduled function's do.
      const sweep = rand() < 0.4;
      const outcome = await invoke("maintenance", fetchTimeoutMs, (instance) =>
        instance.log.runMaintenance({
          topics: [topic],
          sweep,
          budgetMs: fetchTimeoutMs / 2,
          orphanMinAgeMs: 2 * (functionTimeoutMs + maxHoldMs + abortTimeoutMs),
          mergeAfterMs: 1000,
          mergeGraceMs: INDEX_CACHE_MS + fetchTimeoutMs + maxHoldMs + SEGMENT_URL_EXPIRY_S * 1000 + 2000,
        }),
      );
      maintenance.runs++;
      if (sweep) maintenance.sweeps++;
      if (outcome.ok) {
        const r: MaintenanceReport = outcome.value;
        maintenance.segmentsDeleted += r.segmentsDeleted;
        maintenance.orphansDeleted += r.orphansDeleted;
        maintenance.sharedObjectsDeleted += r.sharedObjectsDeleted;
        maintenance.reservationsAborted += r.reservationsAborted;
        maintenance.merges += r.merges;
        maintenance.segmentsMerged += r.segmentsMerged;
        maintenance.failures += r.failures;
      }
      await sleep(500 + rand() * 1000);
    }
  }

  // ---- members' own S3 reads ----
  // Members reading from S3 GET the segments with presigned URLs, past the instances' SDK clients
  // where the plan injects faults: S3 throttles, drops and loses some of those GETs here instead.
  const memberReads = { fromStorage: 0, throughApi: 0, s3Gets: 0, s3Faults: 0 };
  const getFault = random("member-gets");
  const memberTransport = interceptS3Gets(() => {
    memberReads.s3Gets++;
    const r = plan.active ? getFault() : 1;
    if (r < 0.06) memberReads.s3Faults++;
    if (r < 0.03) return s3Error(503, "SlowDown", "Please reduce your request rate.");
    if (r < 0.05) throw connectionFailed("ECONNRESET");
    if (r < 0.06) return s3Error(404, "NoSuchKey", "The specified key does not exist.");
    return undefined;
  });

  // ---- the run ----
  const producerTasks = [
    ...Array.from({ length: options.producers?.idempotent ?? 2 }, (_, i) => produceLoop(`p${i}`, true)),
    ...Array.from({ length: options.producers?.plain ?? 1 }, (_, i) => produceLoop(`q${i}`, false)),
  ];
  const slotTasks = (options.groups ?? [3, 2]).flatMap((n, g) => Array.from({ length: n }, (_, slot) => memberSlot(groupNames[g] as string, slot)));
  const readerTasks = Array.from({ length: partitions }, (_, p) => tailReader(p));
  const maintenanceTask = maintenanceLoop();
  await sleep(seconds * 1000);

  // Drain: stop producing, give in-flight sends a few seconds under faults, then stop the faults.
  const drainStarted = Date.now();
  const phases: Record<string, number> = {};
  const phase = async (name: string, work: Promise<unknown>) => {
    const started = Date.now();
    await work;
    phases[name] = Date.now() - started;
  };
  producing = false;
  churning = false;
  maintaining = false; // retention stops with the producers, so that it takes what it took under faults
  await phase("sends", Promise.race([Promise.allSettled([...sends]), sleep(3000)]));
  plan.active = false;
  await phase("producers", Promise.all([...producerTasks, maintenanceTask]));
  await phase("coverage", Promise.all(slotTasks).then(() => waitForCoverage(options.drainTimeoutMs ?? 30_000 + 2 * abortTimeoutMs)));
  await phase(
    "members",
    Promise.all([
      ...[...live].map(async (m) => {
        await m.consumer.close();
        await m.done;
      }),
      Promise.race([Promise.allSettled(dying), sleep(20_000)]),
    ]),
  );
  await phase("zombies", Promise.race([Promise.allSettled([...inflight]), sleep(Math.max(functionTimeoutMs, fetchTimeoutMs) + maxHoldMs + 1000)]));

  const started = Date.now();
  const final = await finalRead();
  phases["final"] = Date.now() - started;
  for (const f of final) stopAt.set(f.partition, f.highWatermark);
  await Promise.race([Promise.all(readerTasks), sleep(30_000)]);
  readersGiveUp = true;
  await Promise.all(readerTasks);
  await Promise.all([...apis].map(closeApi));
  const drainMs = Date.now() - drainStarted;
  for (const x of [observer, ...instances]) {
    x.dynamo.destroy();
    x.s3.destroy();
  }

  const history: History = { events, final, groups: groupNames };
  const check = checkHistory(history);
  const stats: WorkloadStats = {
    seed,
    seconds,
    requests: plan.seen,
    requestsByStep: plan.requestsByStep,
    faults: plan.counts(),
    invocations,
    produced,
    consumed: Object.fromEntries(Object.entries(consumed).map(([g, c]) => [g, { processed: c.processed, distinct: c.distinct.size }])),
    members,
    commits: events.filter((e) => e.type === "commit").length,
    lateCommits: events.filter((e) => e.type === "commit" && e.late === true).length,
    tail,
    memberReads,
    maintenance,
    final: {
      records: final.reduce((n, f) => n + f.records.length, 0),
      logStart: final.reduce((n, f) => n + f.logStartOffset, 0),
      highWatermark: final.reduce((n, f) => n + f.highWatermark, 0),
    },
    drainMs,
    phases,
    latencyMs: Object.fromEntries(
      Object.entries(durations).map(([fn, ds]) => {
        const sorted = [...ds].sort((x, y) => x - y);
        const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
        return [fn, { p50: at(0.5), p90: at(0.9), max: at(1) }];
      }),
    ),
  };
  return { history, check, plan, stats };

  /** Waits until every group processed every acknowledged record above the log start. */
  async function waitForCoverage(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const acks = events.filter((e): e is Extract<HistoryEvent, { type: "ack" }> => e.type === "ack");
    while (Date.now() < deadline) {
      const { partitions: states } = await observer.log.describeTopic(topic);
      const start = new Map(states.map((s) => [s.partition, s.logStartOffset]));
      const due = acks.filter((a) => a.offset >= (start.get(a.partition) ?? 0));
      if (groupNames.every((g) => due.every((a) => consumed[g]?.distinct.has(a.payload)))) return;
      await sleep(250);
    }
    record({ type: "note", text: `groups did not catch up within ${timeoutMs} ms` });
    // What the groups look like now, from storage and from the members, for the failure report.
    const groups = new GroupService({ store: new DynamoGroupStore({ client: observer.dynamo, tableName: table }), catalog: new LogTopicCatalog(observer.log) });
    for (const group of groupNames) {
      const d = await groups.describe(group);
      const members = d.members.map((m) => `${m.memberId.slice(0, 8)}${m.live ? "" : " (dead)"}`).join(", ");
      const leases = d.partitions.map((p) => `${p.partition}: ${p.owner?.slice(0, 8) ?? "-"}${p.ownerLive ? "" : " (dead)"} epoch ${p.epoch} at ${p.committedOffset}${p.revoking ? " revoking" : ""}`);
      record({ type: "note", text: `${group} in storage: members ${members}; leases ${leases.join("; ")}` });
    }
    for (const m of live) {
      const held = m.consumer.assignment().map((tp) => `${tp.partition}@${m.consumer.leaseEpoch(tp)}`);
      record({ type: "note", text: `${m.consumer.groupId} member ${m.consumer.memberId?.slice(0, 8)} holds ${held.join(", ") || "nothing"}` });
    }
  }

  /** Every partition from its log start to its high watermark, once no reservation is left undecided. */
  async function finalRead(): Promise<FinalPartition[]> {
    const { topic: described } = await observer.log.describeTopic(topic);
    const registry = new Registry(observer.dynamo, table);
    const out: FinalPartition[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      const deadline = Date.now() + abortTimeoutMs + 15_000;
      for (;;) {
        // Reading the high watermark aborts reservations older than the abort timeout.
        const { highWatermark } = await observer.log.offsetFor(topic, partition, "latest").then((o) => ({ highWatermark: o.offset }));
        const head = await registry.getHead(described.topicId, partition);
        if (head !== undefined && head.nextOffset === highWatermark) break;
        if (Date.now() > deadline) throw new Error(`partition ${partition} did not settle: reserved up to ${head?.nextOffset}, committed up to ${highWatermark}`);
        await sleep(200);
      }
      const { logStartOffset, highWatermark } = (await observer.log.describeTopic(topic)).partitions[partition] as { logStartOffset: number; highWatermark: number };
      const records: StoredRecord[] = [];
      for (let offset = logStartOffset; offset < highWatermark; ) {
        const r = await observer.log.fetch(topic, partition, { offset, maxWaitMs: 0 });
        for (const b of r.batches) for (const x of decodeStored(b.bytes)) if (x.offset >= offset) records.push({ offset: x.offset, payload: payloadOf(x.value) });
        if (r.nextOffset <= offset) throw new Error(`the final read of partition ${partition} is stuck at ${offset}`);
        offset = r.nextOffset;
      }
      out.push({ partition, logStartOffset, highWatermark, records });
    }
    return out;
  }
}
