/**
 * A consumer's own reads of the segments a fetch named (docs/produce-and-fetch.md, "Reading from
 * storage"): presigned S3 GETs, and what S3's answers mean for the consumer.
 */
import { mapConcurrent } from "../core/concurrency.ts";
import { SeglogError } from "../core/errors.ts";
import { rangeHeader, type ByteSpan, type LocatedSegment, type SharedObject } from "../core/segment-locations.ts";
import { causeText } from "./http.ts";
import { MAX_TIMER_MS } from "./options.ts";
import type { Transport } from "./transport.ts";

export interface SegmentReadOptions {
  readonly transport: Transport;
  /** GETs in flight at once. */
  readonly concurrency: number;
  /** Each GET, its body included, fails (retriably) after this long. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** The GETs of objects that several partitions' segments share; absent: a GET per segment. */
  readonly shared?: SharedReads;
  /** Told of every GET made. */
  readonly got: () => void;
}

/**
 * The one GET of each shared object (`SharedObject`) that a fetch of several partitions named,
 * made by the first partition that reads a segment from it; the others take their bytes from
 * it. An object's bytes are kept while a segment that names it has yet to take its own (the
 * answer's object is the key). The GET's error is each of those segments' error, as their own
 * GETs' would be: their fetches retry, with backoff, or fetch again.
 */
export class SharedReads {
  private readonly reads = new WeakMap<SharedObject, Promise<Uint8Array>>();
  private stop = new AbortController();

  /** A copy of `segment`'s bytes, so that a record the application keeps holds its own
   * segment's bytes only, not the other partitions' too. */
  async slice(segment: LocatedSegment & { shared: SharedObject; range: ByteSpan }, options: SegmentReadOptions): Promise<Uint8Array> {
    const { shared, range } = segment;
    let read = this.reads.get(shared);
    if (read === undefined) {
      options.got();
      // Not called off with the fetch of the partition that made it: the others wait for it too.
      read = getObject(shared.url, shared.range, "an object several partitions' segments share", { ...options, signal: this.stop.signal });
      read.catch(() => undefined); // each reader hears the error
      this.reads.set(shared, read);
    }
    const bytes = await untilAborted(read, options.signal);
    return bytes.slice(range.start - shared.range.start, range.end - shared.range.start);
  }

  /** Ends the shared GETs under way (the Consumer is closing). */
  cancel(): void {
    this.stop.abort();
    this.stop = new AbortController();
  }
}

/** `promise`, or the signal's reason once it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * GETs the segments, `concurrency` at once, and returns the bytes of the longest prefix that
 * arrived, at least one segment when any is named: a GET that fails after the first ends the read
 * there (the caller's position then goes to the end of the last segment read, `positionAfter`,
 * and its next fetch goes on from there). A failed first GET is the read's error.
 */
export async function readSegments(segments: readonly LocatedSegment[], options: SegmentReadOptions): Promise<Uint8Array[]> {
  let failed: { index: number; error: unknown } | undefined;
  const results = await mapConcurrent(
    segments.map((segment, index) => ({ segment, index })),
    options.concurrency,
    async ({ segment, index }) => {
      try {
        return await getSegment(segment, options);
      } catch (error) {
        if (failed === undefined || index < failed.index) failed = { index, error };
        return undefined;
      }
    },
    () => failed !== undefined,
  );
  const end = results.indexOf(undefined);
  const chunks = (end < 0 ? results : results.slice(0, end)) as Uint8Array[];
  if (chunks.length === 0 && segments.length > 0) throw failed?.error ?? new SeglogError("Internal", "No segment was read, and no error said why");
  return chunks;
}

/** S3 error codes after which a fresh fetch names what is there now: the segment went (retention
 * or a merge) or the URL's signature is no longer good. */
const FETCH_AGAIN = new Set(["NoSuchKey", "ExpiredToken", "TokenRefreshRequired"]);

/** A segment's bytes: from its shared object's GET, else by a GET of its own. */
async function getSegment(segment: LocatedSegment, options: SegmentReadOptions): Promise<Uint8Array> {
  const { shared, range } = segment;
  if (shared && range && options.shared) return options.shared.slice({ ...segment, shared, range }, options);
  options.got();
  return getObject(segment.url, range, `offset ${segment.baseOffset}`, options);
}

/** One GET of an object, or of its range, by its presigned URL. */
async function getObject(presigned: string, range: ByteSpan | undefined, what: string, options: Omit<SegmentReadOptions, "shared" | "got">): Promise<Uint8Array> {
  const url = new URL(presigned);
  const at = `reading ${what} from S3 at ${url.host}`;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), Math.min(options.timeoutMs, MAX_TIMER_MS));
  let status: number;
  let body: Uint8Array;
  try {
    const signal = AbortSignal.any([options.signal, timeout.signal]);
    ({ status, body } = await options.transport({ method: "GET", url, headers: range === undefined ? {} : { range: rangeHeader(range) }, signal }));
  } catch (e) {
    if (options.signal.aborted) throw e;
    const why = timeout.signal.aborted ? `no answer within ${options.timeoutMs} ms` : causeText(e);
    throw new SeglogError("Internal", `Cannot reach S3 ${at}: ${why}`, { retriable: true, code: "StorageUnreachable", cause: e });
  } finally {
    clearTimeout(timer);
  }
  if (status === 200 || status === 206) {
    const expected = range === undefined ? body.byteLength : range.end - range.start;
    if (body.byteLength === expected) return body;
    throw new SeglogError("Internal", `S3 answered ${body.byteLength} bytes for a range of ${expected} ${at}`, { retriable: true });
  }
  const { code, message } = s3Error(body);
  const said = `S3 answered ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""} ${at}`;
  if (FETCH_AGAIN.has(code) || (status === 403 && /expired/i.test(message))) {
    throw new SeglogError("Internal", `${said}; fetching again`, { retriable: true, code: "SegmentGone" });
  }
  if (status === 503 || code === "SlowDown") throw new SeglogError("Throttled", said, { retriable: true });
  if (status >= 500) throw new SeglogError("Internal", said, { retriable: true });
  // Denied or refused for good (a bucket policy, a wrong signature): retrying cannot help.
  throw new SeglogError("Internal", `${said} (readFrom: "api" reads through the API instead)`, { retriable: false, code: "StorageRefused" });
}

/** The `<Code>` and `<Message>` of an S3 XML error body, when there is one. */
function s3Error(body: Uint8Array): { code: string; message: string } {
  const xml = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  return { code: /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? "", message: /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? "" };
}
