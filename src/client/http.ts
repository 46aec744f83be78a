import { SeglogError, errorFromBody, isSeglogError } from "../core/errors.ts";
import { SEGMENTS_MEDIA_TYPE } from "../core/segment-locations.ts";
import { signerForUrl, type RequestSigner } from "./sigv4.ts";
import { MAX_TIMER_MS, wholeNumber } from "./options.ts";
import { nodeTransport, type Transport, type WireResponse } from "./transport.ts";

export const DEFAULT_URL = "http://127.0.0.1:8092";

export interface ClientOptions {
  /** The API's base URL. @default `SEGLOG_URL`, else http://127.0.0.1:8092 (the local dev API) */
  readonly url?: string;
  /** Attempts for retriable failures, first try included. @default 6 (a Producer's batches and
   * its InitProducerId: unbounded, within its `deliveryTimeoutMs`) */
  readonly maxAttempts?: number;
  /** First backoff; doubles per attempt with full jitter, capped at `maxBackoffMs`. @default 100 */
  readonly initialBackoffMs?: number;
  /** The longest wait between attempts, a server's `Retry-After` included. @default 5000 */
  readonly maxBackoffMs?: number;
  /** How long a request waits for its answer before it is given up, and retried where that is
   * safe (Kafka's `request.timeout.ms`): a server that takes the connection and never answers
   * holds no call past it. A fetch's long poll (`maxWaitMs`) comes on top. With a Producer's
   * `transactionalId`, keep it above the API's function timeouts (20 s): an InitProducerId given
   * up that lands after its retry would fence that producer. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** Signs each request (IAM-authorized deployments). `false` never signs.
   * @default SigV4 with the default AWS credential chain for AWS API URLs (see `sigv4.ts`), else none */
  readonly signer?: RequestSigner | false;
  /** Sends the requests: the API's, and a consumer's GETs from S3. @default Node's `http`/`https` (`transport.ts`) */
  readonly transport?: Transport;
}

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
  /** `segments`: a fetch answered with presigned segment URLs (the consumer's reads from S3). */
  readonly accept?: "json" | "binary" | "segments";
  readonly signal?: AbortSignal;
  /** An answer not had within this long fails the call, retriable (`RequestTimeout`): it may have
   * been carried out. @default the client's `requestTimeoutMs` */
  readonly timeoutMs?: number;
  /** A produce: an error answer that carries each batch's result (`offsets`) is returned, not
   * thrown, so that each batch is answered by its own error. */
  readonly perBatch?: boolean;
}

export interface HttpReply {
  readonly status: number;
  /** A header of the answer by its name in lower case. */
  header(name: string): string | undefined;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
}

const ACCEPT = { json: "application/json", binary: "application/octet-stream", segments: SEGMENTS_MEDIA_TYPE } as const;

/** A topic's or group's name as a segment of a request's path. "", "." and ".." are refused
 * here: a URL resolves them away, and the request would go to another route (the list of all). */
export function pathSegment(name: string, what: "topic" | "group"): string {
  if (typeof name !== "string" || name === "" || name === "." || name === "..") {
    throw new SeglogError("Invalid", `A ${what} name must not be empty, "." or "..", not ${JSON.stringify(name)}`, { code: `Invalid${what[0]!.toUpperCase()}${what.slice(1)}Name` });
  }
  return encodeURIComponent(name);
}

/** The API's base url: the option, else `SEGLOG_URL`, else the local default. One that is not an
 * http(s) address is refused when the client is made, not retried at every call: "localhost:8092"
 * parses as a url of the scheme "localhost:". */
export function resolveUrl(url?: string): string {
  const raw = url ?? process.env["SEGLOG_URL"] ?? DEFAULT_URL;
  const parsed = URL.canParse(raw) ? new URL(raw) : undefined;
  const from = url === undefined ? " (from SEGLOG_URL)" : "";
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw new SeglogError("Invalid", `url must be an http:// or https:// address, not ${JSON.stringify(raw)}${from}`);
  }
  // Each call's path goes after the base: "…/prod?x=1" would send every call to "…/prod?x=1/v1/…".
  if (/[?#]/.test(raw)) {
    throw new SeglogError("Invalid", `url is the API's base address, without a query or fragment, not ${JSON.stringify(raw)}${from}`);
  }
  return raw.replace(/\/+$/, "");
}

/** How long `retrying` goes on: at most `maxAttempts` in all, none started after `deadline` (`performance.now()` ms). */
export interface RetryBounds {
  readonly maxAttempts?: number;
  readonly deadline?: number;
  /** Each attempt's `timeoutMs` (where the helper makes the call: `get`). */
  readonly attemptTimeoutMs?: number;
  /** Aborts the attempt under way and stops retrying (where the helper makes the call: `get`). */
  readonly signal?: AbortSignal;
  /** Which retriable errors go again. @default all */
  readonly retryOn?: (e: SeglogError) => boolean;
}

/** The HTTP transport shared by the Admin, Producer and Consumer: typed errors, one retry helper. */
export class SeglogHttp {
  readonly url: string;
  readonly maxAttempts: number;
  readonly requestTimeoutMs: number;
  readonly transport: Transport;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly signer: RequestSigner | undefined;
  /** The pause the server last asked for with `Retry-After`, until a success without one. Every
   * backoff of this client waits at least this long, also where the caller has no error object
   * to pass (a batch that a 207 refused). */
  private serverRetryAfterMs = 0;

  constructor(options: ClientOptions = {}) {
    this.url = resolveUrl(options.url);
    this.maxAttempts = options.maxAttempts ?? 6;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    wholeNumber("requestTimeoutMs", options.requestTimeoutMs, 1, MAX_TIMER_MS);
    wholeNumber("maxAttempts", options.maxAttempts, 1);
    wholeNumber("initialBackoffMs", options.initialBackoffMs, 1, MAX_TIMER_MS);
    wholeNumber("maxBackoffMs", options.maxBackoffMs, options.initialBackoffMs ?? 1, MAX_TIMER_MS);
    this.transport = options.transport ?? nodeTransport;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.signer = options.signer === false ? undefined : (options.signer ?? signerForUrl(this.url));
  }

  /** One request; non-2xx answers become the server's typed error. 207 is returned, not thrown. */
  async call(c: HttpCall): Promise<HttpReply> {
    const url = new URL(this.url + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: ACCEPT[c.accept ?? "json"] };
    let body: Uint8Array | string | undefined;
    if (c.bytes) {
      headers["content-type"] = "application/octet-stream";
      body = c.bytes;
    } else if (c.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(c.json);
    }
    if (this.signer) Object.assign(headers, await this.signer.sign({ method: c.method, url, headers, ...(body === undefined ? {} : { body }) }));
    // The timeout's own controller, its timer cleared at the answer: a busy producer would
    // otherwise keep a live timer per request for `timeoutMs`.
    const timeoutMs = c.timeoutMs ?? this.requestTimeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.min(timeoutMs, MAX_TIMER_MS));
    const callerAborted = () => timeout.abort(c.signal?.reason);
    c.signal?.addEventListener("abort", callerAborted, { once: true });
    if (c.signal?.aborted) callerAborted();
    let res: WireResponse;
    try {
      res = await this.transport({ method: c.method, url, headers, ...(body === undefined ? {} : { body }), signal: timeout.signal });
    } catch (e) {
      if (c.signal?.aborted) throw e;
      if (timeout.signal.aborted) {
        throw new SeglogError("Internal", `No answer from Seglog at ${this.url} within ${timeoutMs} ms (requestTimeoutMs): the request may have been carried out`, { retriable: true, code: "RequestTimeout", cause: e });
      }
      throw new SeglogError("Internal", `Cannot reach Seglog at ${this.url}: ${causeText(e)}`, { retriable: true, code: "Unreachable", cause: e });
    } finally {
      clearTimeout(timer);
      c.signal?.removeEventListener("abort", callerAborted);
    }
    const ok = res.status >= 200 && res.status < 300;
    const retryAfterMs = retryAfterMsOf(res);
    if (retryAfterMs !== undefined) this.serverRetryAfterMs = retryAfterMs;
    else if (ok) this.serverRetryAfterMs = 0;
    const header = (name: string) => res.header(name);
    if (ok && (res.header("content-type") ?? "").startsWith("application/octet-stream")) return { status: res.status, header, bytes: res.body };
    const text = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString("utf8");
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const answersEachBatch = c.perBatch === true && Array.isArray((json as { offsets?: unknown } | undefined)?.offsets);
    if (!ok && res.status !== 207 && !answersEachBatch) throw errorFromReply(res, url, json, text);
    return { status: res.status, header, json };
  }

  /**
   * Runs `fn` again on retriable errors with exponential backoff and full jitter, at most
   * `maxAttempts` times in all and starting none after `deadline` (`performance.now()` ms), if
   * given: a backoff that would end past it fails at once. An aborted `signal` cuts the backoff
   * short and stops retrying.
   */
  async retrying<T>(fn: () => Promise<T>, signal?: AbortSignal, bounds: RetryBounds = {}): Promise<T> {
    const { maxAttempts = this.maxAttempts, deadline = Number.POSITIVE_INFINITY, retryOn } = bounds;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const waitMs = isSeglogError(e) ? this.backoffMs(attempt, e) : 0;
        // No attempt would start before the deadline: the error is the answer now, not after the wait.
        if (!isSeglogError(e) || !e.retriable || (retryOn && !retryOn(e)) || attempt >= maxAttempts || performance.now() + waitMs >= deadline || signal?.aborted) throw e;
        await sleep(waitMs, signal);
      }
    }
  }

  /**
   * The wait before the attempt after `attempt`: the server's `Retry-After` (the error's, or the
   * last one this client got) plus full jitter under an exponential ceiling
   * (`initialBackoffMs · 2^(attempt−1)`), all capped at `maxBackoffMs`. The jitter goes on top of
   * `Retry-After`, not under it: clients throttled together must not all come back at once.
   */
  backoffMs(attempt: number, e?: SeglogError): number {
    const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    const serverMs = Math.max(e?.retryAfterMs ?? 0, this.serverRetryAfterMs);
    return Math.min(this.maxBackoffMs, serverMs + Math.random() * ceiling);
  }

  get(path: string, query?: HttpCall["query"], bounds?: RetryBounds): Promise<HttpReply> {
    const { attemptTimeoutMs: timeoutMs, signal } = bounds ?? {};
    return this.retrying(
      () => this.call({ method: "GET", path, ...(query ? { query } : {}), ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(signal ? { signal } : {}) }),
      signal,
      bounds,
    );
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** What failed, in a word where there is one: ECONNREFUSED, ETIMEDOUT. */
export function causeText(e: unknown): string {
  const { code, message, cause } = e as { code?: unknown; message?: string; cause?: { code?: string; message?: string } };
  return (typeof code === "string" ? code : undefined) ?? cause?.code ?? cause?.message ?? message ?? String(e);
}

/** `Retry-After` in milliseconds; only the delay-seconds form (what Seglog and API Gateway send). */
function retryAfterMsOf(res: WireResponse): number | undefined {
  const seconds = Number(res.header("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function errorFromReply(res: WireResponse, url: URL, json: unknown, text: string): SeglogError {
  const retryAfterMs = retryAfterMsOf(res);
  const seglogs = errorFromBody((json as { error?: unknown } | undefined)?.error, retryAfterMs === undefined ? {} : { retryAfterMs });
  if (seglogs) return seglogs;
  // Not Seglog's own answer (API Gateway, a proxy): 429 and 5xx may pass, the rest will not.
  const retriable = res.status === 429 || res.status >= 500;
  return new SeglogError(
    res.status === 429 ? "Throttled" : res.status === 404 ? "NotFound" : res.status < 500 ? "Invalid" : "Internal",
    `HTTP ${res.status} from ${url.href}: ${text.slice(0, 200)}`,
    { retriable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
  );
}
