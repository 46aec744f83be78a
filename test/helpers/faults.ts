import { AsyncLocalStorage } from "node:async_hooks";
import { InternalServerError, ProvisionedThroughputExceededException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3ServiceException, type S3Client } from "@aws-sdk/client-s3";

/** Where a request fails: before it reaches storage, or after it took effect (answer lost). */
export type Fault = "error-before" | "error-after" | "hang-before" | "hang-after";

export interface RequestInfo {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/**
 * SDK middleware for tests only: asks `plan` about each request and fails or holds it.
 * Held requests wait until `releaseAll()`; thrown faults look like a client-side timeout.
 */
export function injectFaults(client: DynamoDBClient | S3Client, plan: (req: RequestInfo) => Fault | undefined) {
  const held: (() => void)[] = [];
  let hits = 0;
  const hold = () => new Promise<void>((r) => held.push(r));
  const timeout = () => Object.assign(new Error("injected timeout"), { name: "TimeoutError" });
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const fault = plan({ command: String(context.commandName), input: args.input as Record<string, unknown> });
      if (fault) hits++;
      if (fault === "error-before") throw timeout();
      if (fault === "hang-before") await hold();
      const result = await next(args);
      if (fault === "error-after") throw timeout();
      if (fault === "hang-after") await hold();
      return result;
    },
    { step: "initialize", name: `faults${Math.random()}` },
  );
  return {
    releaseAll: () => held.splice(0).forEach((r) => r()),
    get held() {
      return held.length;
    },
    get hits() {
      return hits;
    },
  };
}

/** What kind of produce request an SDK call is, by command and key (see {@link classify} for all). */
export function stepOf(req: RequestInfo): "reserve" | "claim" | "put" | "commit" | "other" {
  const step = classify(req);
  return step === "reserve" || step === "claim" || step === "put" || step === "commit" ? step : "other";
}

// ---- Fault plans (test/faults, docs/fault-testing.md) ----

/** Every kind of request Seglog makes, named by command and key. */
export type Step =
  // produce (docs/produce-and-fetch.md, docs/idempotent-producer.md)
  | "reserve"
  | "claim"
  | "put"
  | "commit"
  | "abort"
  | "init-producer"
  // the read path's stable hint, and maintenance (docs/maintenance.md)
  | "stable"
  | "retention"
  | "cleanup"
  | "merge-claim"
  | "merge-put"
  | "merge-swap"
  | "topic-write"
  // consumer groups (docs/consumer-groups.md)
  | "join"
  | "renew"
  | "member-write"
  | "lease-take"
  | "lease-write"
  | "offset-commit"
  | "group-registry"
  | "read"
  | "other";

type Attributes = Record<string, { S?: string } | undefined>;

/**
 * Names an SDK request by command and key: the produce steps, the index writes (commit, abort,
 * merge swap), the maintenance writes, and the group store's writes — `lease-take` is the lease
 * UpdateItem that sets `#owner`, `offset-commit` the one that sets `#checkpoint` on condition of
 * `#owner` (a reset sets it on condition of the epoch alone: `lease-write`).
 */
export function classify(req: RequestInfo): Step {
  const command = req.command.replace(/Command$/, "");
  const input = req.input;
  switch (command) {
    case "GetItem":
    case "Query":
    case "Scan":
    case "BatchGetItem":
    case "GetObject":
    case "HeadObject":
    case "ListObjectsV2":
      return "read";
    case "PutObject":
      return /\d{20}-\d{20}\.log$/.test(String(input["Key"])) ? "merge-put" : "put";
    case "DeleteObject":
    case "DeleteObjects":
    case "BatchWriteItem":
      return "cleanup";
  }
  const key = (input["Key"] ?? input["Item"]) as Attributes | undefined;
  const pk = key?.["pk"]?.S ?? "";
  const sk = key?.["sk"]?.S ?? "";
  const update = String(input["UpdateExpression"] ?? "");
  const condition = String(input["ConditionExpression"] ?? "");
  if (command === "PutItem" && sk.startsWith("S#")) {
    const item = input["Item"] as Attributes;
    if (item["toSeq"] !== undefined) return "merge-swap";
    return item["st"]?.S === "A" ? "abort" : "commit";
  }
  if (sk.startsWith("PR#")) return "claim";
  if (pk === "PRODUCER") return "init-producer";
  if (sk === "HEAD") {
    if (command !== "UpdateItem") return "topic-write";
    if (update.startsWith("ADD nextSeq")) return "reserve";
    if (/\bstableSeq =/.test(update)) return "stable";
    if (/\bstartSeq =/.test(update)) return "retention";
    if (/merge/i.test(update)) return "merge-claim";
    return "other";
  }
  if (pk === "TOPIC" || pk === "DELETED") return "topic-write";
  if (pk === "GROUP") return "group-registry";
  if (pk.startsWith("G#") && sk.startsWith("M#")) {
    if (command === "PutItem") return "join";
    return /#lastHeartbeatAt = /.test(update) ? "renew" : "member-write";
  }
  if (pk.startsWith("G#") && sk.startsWith("L#")) {
    if (/(^SET |, )#owner = /.test(update)) return "lease-take";
    if (/#checkpoint = /.test(update) && /#owner = /.test(condition)) return "offset-commit";
    return "lease-write";
  }
  return "other";
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for one named stream of a run (FNV-1a over the name, mixed with the run's seed). */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * - `error`: a transient server error before the request reached storage (the SDK retries it);
 * - `throttle`: DynamoDB's ProvisionedThroughputExceededException, S3's 503 SlowDown (the SDK
 *   retries with its throttling backoff; if it runs out, Seglog answers `Throttled`);
 * - `timeout-after`: the request took effect, then the caller timed out (the SDK retries it);
 * - `crash-before`, `crash-after`: the invocation hangs for a while, then dies before or after the
 *   request took effect: its caller never hears back and nothing it sends later reaches storage;
 * - `stall`: the request is held in flight while the caller (API Gateway) gives up at once; it
 *   lands later, and the invocation carries on as a zombie.
 */
export const FAULT_KINDS = ["error", "throttle", "timeout-after", "crash-before", "crash-after", "stall"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlanOptions {
  readonly seed: number;
  /** Probability of each kind per request attempt (their sum at most 1). */
  readonly rates: Readonly<Partial<Record<FaultKind, number>>>;
  /** The steps that get faults. @default every step */
  readonly steps?: (step: Step) => boolean;
  /** Crashes hang, and stalls hold a request, for up to this long. @default 1000 */
  readonly maxHoldMs?: number;
}

export interface PlannedFault {
  readonly kind: FaultKind;
  readonly holdMs: number;
}

export interface ScheduledFault extends PlannedFault {
  /** Position among every request the plan was asked about. */
  readonly request: number;
  readonly step: Step;
  /** Position among the requests of this step: the plan's decision for it depends only on the seed. */
  readonly stepRequest: number;
  readonly command: string;
  readonly invocation: string;
}

/**
 * A seeded fault plan: each step has its own PRNG stream, so the fault given to the n-th request
 * of a step depends only on the seed and n, however requests of different steps interleave.
 * Every fault is recorded in `schedule`, so a failure can print what was done to the run.
 */
export class FaultPlan {
  readonly seed: number;
  readonly schedule: ScheduledFault[] = [];
  /** Off: requests pass untouched (the drain at the end of a run). */
  active = true;
  private requests = 0;
  /** Requests seen, by step (faulted or not). */
  readonly requestsByStep: Record<string, number> = {};
  private readonly streams = new Map<Step, { random: () => number; count: number }>();
  private readonly maxHoldMs: number;

  constructor(private readonly options: FaultPlanOptions) {
    this.seed = options.seed;
    this.maxHoldMs = options.maxHoldMs ?? 1000;
  }

  decide(req: RequestInfo, step: Step, invocation: string): PlannedFault | undefined {
    const request = this.requests++;
    this.requestsByStep[step] = (this.requestsByStep[step] ?? 0) + 1;
    if (!this.active || !(this.options.steps?.(step) ?? true)) return undefined;
    let stream = this.streams.get(step);
    if (stream === undefined) this.streams.set(step, (stream = { random: mulberry32(streamSeed(this.seed, step)), count: 0 }));
    const stepRequest = stream.count++;
    const roll = stream.random();
    const hold = stream.random();
    let sum = 0;
    for (const kind of FAULT_KINDS) {
      sum += this.options.rates[kind] ?? 0;
      if (roll < sum) {
        const fault = { kind, holdMs: Math.floor(hold * this.maxHoldMs) };
        this.schedule.push({ ...fault, request, step, stepRequest, command: req.command, invocation });
        return fault;
      }
    }
    return undefined;
  }

  /** Requests the plan was asked about. */
  get seen(): number {
    return this.requests;
  }

  /** Faults injected, by kind and by step. */
  counts(): { byKind: Record<string, number>; byStep: Record<string, number> } {
    const byKind: Record<string, number> = {};
    const byStep: Record<string, number> = {};
    for (const f of this.schedule) {
      byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
      byStep[f.step] = (byStep[f.step] ?? 0) + 1;
    }
    return { byKind, byStep };
  }
}

/**
 * One Lambda invocation as the fault middleware sees it. A crash ends it for good: whatever it
 * sends afterwards never reaches storage. `abandon` is API Gateway giving up on it while it runs.
 */
export class Invocation {
  crashed = false;
  /** Its caller stopped waiting for it: whatever it does from now on, nobody hears of it. */
  abandoned = false;
  private readonly listeners: ((why: "crashed" | "abandoned") => void)[] = [];

  constructor(readonly id: string) {}

  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    for (const l of this.listeners) l("crashed");
  }

  abandon(): void {
    this.abandoned = true;
    for (const l of this.listeners) l("abandoned");
  }

  onEnd(listener: (why: "crashed" | "abandoned") => void): void {
    this.listeners.push(listener);
  }
}

/** The invocation the current async context runs in (set by the test's Lambda wrapper). */
export const currentInvocation = new AsyncLocalStorage<Invocation>();

export interface PlanHooks {
  /** Called as a request leaves for storage (after any hold), with the same `req` that `landed` gets. */
  readonly sending?: (req: RequestInfo, step: Step) => void;
  /**
   * Called for every request that took effect in storage, whether or not its caller heard back;
   * `late` when its invocation had crashed or been abandoned by then (nobody waits for it);
   * `output`, what storage answered (the command's output).
   */
  readonly landed?: (req: RequestInfo, step: Step, late: boolean, output: unknown) => void;
}

/**
 * Puts `plan` between the SDK's retries and the wire of `client`, for requests made inside an
 * invocation (`currentInvocation`); requests outside one (setup, observers) pass untouched. The
 * SDK sees each injected error as it would the real one, and retries what it would retry.
 */
export function attachPlan(client: DynamoDBClient | S3Client, service: "dynamodb" | "s3", plan: FaultPlan, hooks: PlanHooks = {}): void {
  type Next = (args: { input: object }) => Promise<unknown>;
  const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: object }) => {
    const req = { command: String(context.commandName), input: args.input as Record<string, unknown> };
    const invocation = currentInvocation.getStore();
    const send = async () => {
      hooks.sending?.(req, classify(req));
      const out = await next(args);
      hooks.landed?.(req, classify(req), invocation !== undefined && (invocation.crashed || invocation.abandoned), (out as { output?: unknown }).output);
      return out;
    };
    if (invocation === undefined) return send();
    if (invocation.crashed) throw crashedError(invocation);
    const fault = plan.decide(req, classify(req), invocation.id);
    switch (fault?.kind) {
      case undefined:
        return send();
      case "error":
        throw serverError(service);
      case "throttle":
        throw throttleError(service);
      case "timeout-after":
        await send();
        throw Object.assign(new Error("Request timed out after it was sent"), { name: "TimeoutError" });
      case "crash-before":
        await sleep(fault.holdMs);
        invocation.crash();
        throw crashedError(invocation);
      case "crash-after":
        await send();
        await sleep(fault.holdMs);
        invocation.crash();
        throw crashedError(invocation);
      case "stall": {
        invocation.abandon();
        await sleep(fault.holdMs);
        const out = await send();
        if (invocation.crashed) throw crashedError(invocation);
        return out;
      }
    }
  };
  // Inside the SDK's retries, next to the wire: each attempt is a request of its own.
  (client as DynamoDBClient).middlewareStack.addRelativeTo(middleware as never, {
    relation: "after",
    toMiddleware: "retryMiddleware",
    name: `faultPlan${Math.random()}`,
  });
}

/**
 * Rewrites requests before they are serialized: a deliberately broken Seglog, to show that the
 * checker catches what a missing condition allows. Return undefined to leave a request alone.
 */
export function rewriteRequests(
  client: DynamoDBClient | S3Client,
  rewrite: (req: RequestInfo, step: Step) => Record<string, unknown> | undefined,
): void {
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const req = { command: String(context.commandName), input: args.input as Record<string, unknown> };
      const input = rewrite(req, classify(req));
      return next(input === undefined ? args : { ...args, input: input as typeof args.input });
    },
    { step: "initialize", name: `rewrite${Math.random()}` },
  );
}

/** A condition that always holds but still uses every name and value of the original (DynamoDB rejects unused ones). */
export function withoutCondition(input: Record<string, unknown>): Record<string, unknown> {
  const condition = input["ConditionExpression"];
  return condition === undefined ? input : { ...input, ConditionExpression: `(${String(condition)}) OR attribute_exists(pk) OR attribute_not_exists(pk)` };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function serverError(service: "dynamodb" | "s3"): Error {
  const $metadata = { httpStatusCode: 500, attempts: 1, totalRetryDelay: 0 };
  return service === "dynamodb"
    ? new InternalServerError({ message: "Internal server error (injected)", $metadata })
    : new S3ServiceException({ name: "InternalError", $fault: "server", message: "We encountered an internal error. Please try again. (injected)", $metadata });
}

function throttleError(service: "dynamodb" | "s3"): Error {
  return service === "dynamodb"
    ? new ProvisionedThroughputExceededException({
        message: "The level of configured provisioned throughput for the table was exceeded (injected)",
        $metadata: { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 },
      })
    : new S3ServiceException({
        name: "SlowDown",
        $fault: "server",
        message: "Please reduce your request rate. (injected)",
        $metadata: { httpStatusCode: 503, attempts: 1, totalRetryDelay: 0 },
      });
}

/** What a request of a dead invocation fails with: no status, no retry trait, so the SDK does not retry it. */
function crashedError(invocation: Invocation): Error {
  return Object.assign(new Error(`Invocation ${invocation.id} crashed`), { name: "InvocationCrashed" });
}
