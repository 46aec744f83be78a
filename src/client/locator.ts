import { isSeglogError } from "../core/errors.ts";
import {
  MAX_PARTITIONS_PER_FETCH,
  SEGMENTS_MEDIA_TYPE,
  parsePartitionsAnswer,
  parseSegmentsAnswer,
  partitionsParam,
  type SegmentsAnswer,
} from "../core/segment-locations.ts";
import { pathSegment, type SeglogHttp } from "./http.ts";

/** Where a partition's segments are, as the Consumer asks for them. */
export interface LocateCall {
  readonly topic: string;
  readonly partition: number;
  readonly position: number;
  readonly maxWaitMs: number;
  readonly signal: AbortSignal;
}

/** A segments answer, or `"bytes"`: the server answers with the bytes (it predates reading from S3). */
export type Located = SegmentsAnswer | "bytes";

interface Queued extends LocateCall {
  resolve(located: Located): void;
  reject(error: unknown): void;
}

/**
 * The Consumer's fetches that name segments (docs/produce-and-fetch.md, "Reading from storage").
 * The fetches it starts in one turn of the event loop for one topic, with the same wait, go as
 * one request, as one Kafka FetchRequest covers every partition a consumer reads: a poll of 10
 * partitions is one API request and one fetch-function invocation instead of 10. A lone fetch
 * uses the per-partition route, as does every fetch for 5 minutes after a server refused the
 * other. A shared request that fails fails each of its fetches, which the Consumer retries on its
 * own: one per partition, as before there was a fetch of several.
 */
export class Locator {
  private queued = new Map<string, Queued[]>();
  private flushing = false;
  /** After the server said it has no fetch of several partitions, not before this time (ms):
   * it may be redeployed with it, or a policy changed. */
  private manyAgainAt = 0;

  constructor(
    private readonly http: SeglogHttp,
    private readonly maxBytes: number,
    /** Told of every HTTP request made. */
    private readonly requested: () => void,
  ) {}

  locate(call: LocateCall): Promise<Located> {
    return new Promise<Located>((resolve, reject) => {
      const key = `${call.maxWaitMs} ${call.topic}`;
      const queue = this.queued.get(key) ?? [];
      queue.push({ ...call, resolve, reject });
      this.queued.set(key, queue);
      if (!this.flushing) {
        this.flushing = true;
        // After the microtasks of this turn: the fetches a poll starts, or that one answer's
        // partitions start next, are queued by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushing = false;
    const queues = [...this.queued.values()];
    this.queued = new Map();
    for (const queue of queues) {
      const live = queue.filter((c) => {
        if (c.signal.aborted) c.reject(c.signal.reason);
        return !c.signal.aborted;
      });
      const many = Date.now() >= this.manyAgainAt;
      for (const group of distinctGroups(live)) void (group.length === 1 || !many ? this.each(group) : this.together(group));
    }
  }

  private async each(calls: readonly Queued[]): Promise<void> {
    await Promise.all(calls.map((c) => this.one(c).then(c.resolve, c.reject)));
  }

  /** One partition by its own route; an answer that is not a segments answer means `"bytes"`. */
  private async one(call: LocateCall): Promise<Located> {
    const reply = await this.http.call({
      method: "GET",
      path: `/v1/topics/${pathSegment(call.topic, "topic")}/partitions/${call.partition}/records`,
      query: { offset: call.position, maxBytes: this.maxBytes, maxWaitMs: call.maxWaitMs },
      accept: "segments",
      signal: call.signal,
      timeoutMs: call.maxWaitMs + this.http.requestTimeoutMs, // a fetch is given up after its long poll and this long more
    });
    this.requested();
    if (reply.header("content-type")?.split(";")[0]?.trim() !== SEGMENTS_MEDIA_TYPE) return "bytes";
    return parseSegmentsAnswer(reply.json);
  }

  /** Several partitions of one topic in one request. Each call settles with its own partition's
   * answer or error, or at once when its own signal aborts (the request goes on for the others
   * until every one has). */
  private async together(calls: readonly Queued[]): Promise<void> {
    const request = new AbortController();
    const waiting = new Map<Queued, () => void>();
    const detach = (c: Queued): boolean => {
      const onAbort = waiting.get(c);
      if (onAbort === undefined) return false;
      waiting.delete(c);
      c.signal.removeEventListener("abort", onAbort);
      return true;
    };
    for (const c of calls) {
      const onAbort = () => {
        if (detach(c)) c.reject(c.signal.reason);
        if (waiting.size === 0) request.abort();
      };
      waiting.set(c, onAbort);
      c.signal.addEventListener("abort", onAbort, { once: true });
    }
    const [first] = calls as [Queued];
    let answers: ReturnType<typeof parsePartitionsAnswer>;
    try {
      const reply = await this.http.call({
        method: "GET",
        path: `/v1/topics/${pathSegment(first.topic, "topic")}/records`,
        query: { partitions: partitionsParam(calls.map((c) => ({ partition: c.partition, offset: c.position }))), maxBytes: this.maxBytes, maxWaitMs: first.maxWaitMs },
        signal: request.signal,
        timeoutMs: first.maxWaitMs + this.http.requestTimeoutMs,
      });
      this.requested();
      answers = parsePartitionsAnswer(reply.json, calls.map((c) => c.partition));
    } catch (e) {
      const pending = calls.filter(detach);
      if (noSuchRoute(e)) {
        // A server from before this route, or an IAM policy that only allows the per-partition
        // one: one request per partition for a while.
        this.manyAgainAt = Date.now() + ASK_AGAIN_MS;
        await this.each(pending);
      } else {
        for (const c of pending) c.reject(e);
      }
      return;
    }
    calls.forEach((c, i) => {
      const answer = answers[i] as (typeof answers)[number];
      if (detach(c)) {
        if ("error" in answer) c.reject(answer.error);
        else c.resolve(answer);
      }
    });
  }
}

/** How long a Consumer fetches one partition per request after the server refused a fetch of several. */
const ASK_AGAIN_MS = 5 * 60_000;

/** Seglog's own "no route" (a local server from before the route), or API Gateway's 404 or 403
 * without a Seglog error body (a deployed stack from before it, or a policy without it). */
function noSuchRoute(e: unknown): boolean {
  return isSeglogError(e) && ((e.kind === "NotFound" && /^No route /.test(e.message)) || /^HTTP 40[34] from /.test(e.message));
}

/** Splits calls into groups of distinct partitions, each at most `MAX_PARTITIONS_PER_FETCH`. */
function distinctGroups(calls: readonly Queued[]): Queued[][] {
  const groups: Queued[][] = [];
  for (const c of calls) {
    const group = groups.find((g) => g.length < MAX_PARTITIONS_PER_FETCH && !g.some((x) => x.partition === c.partition));
    if (group) group.push(c);
    else groups.push([c]);
  }
  return groups;
}
