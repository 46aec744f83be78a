import { SeglogError, isErrorKind, isSeglogError } from "../core/errors.ts";
import { signerForUrl, type RequestSigner } from "./sigv4.ts";

export const DEFAULT_URL = "http://127.0.0.1:8092";

export interface ClientOptions {
  /** The API's base URL. @default `SEGLOG_URL`, else http://127.0.0.1:8092 (the local dev API) */
  readonly url?: string;
  /** Attempts for retriable failures, first try included. @default 6 */
  readonly maxAttempts?: number;
  /** First backoff; doubles per attempt with full jitter, capped at `maxBackoffMs`. @default 100 */
  readonly initialBackoffMs?: number;
  /** @default 5000 */
  readonly maxBackoffMs?: number;
  /** Signs each request (IAM-authorized deployments). `false` never signs.
   * @default SigV4 with the default AWS credential chain for AWS API URLs (see `sigv4.ts`), else none */
  readonly signer?: RequestSigner | false;
}

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
  readonly accept?: "json" | "binary";
  readonly signal?: AbortSignal;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
}

export const resolveUrl = (url?: string): string => (url ?? process.env["SEGLOG_URL"] ?? DEFAULT_URL).replace(/\/+$/, "");

/** The HTTP transport shared by the Admin, Producer and Consumer: typed errors, one retry helper. */
export class SeglogHttp {
  readonly url: string;
  readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly signer: RequestSigner | undefined;

  constructor(options: ClientOptions = {}) {
    this.url = resolveUrl(options.url);
    this.maxAttempts = options.maxAttempts ?? 6;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.signer = options.signer === false ? undefined : (options.signer ?? signerForUrl(this.url));
  }

  /** One request; non-2xx answers become the server's typed error. 207 is returned, not thrown. */
  async call(c: HttpCall): Promise<HttpReply> {
    const url = new URL(this.url + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: c.accept === "binary" ? "application/octet-stream" : "application/json" };
    let body: Uint8Array | string | undefined;
    if (c.bytes) {
      headers["content-type"] = "application/octet-stream";
      body = c.bytes;
    } else if (c.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(c.json);
    }
    if (this.signer) Object.assign(headers, await this.signer.sign({ method: c.method, url, headers, ...(body === undefined ? {} : { body }) }));
    let res: Response;
    try {
      res = await fetch(url, { method: c.method, headers, body: body ?? null, ...(c.signal ? { signal: c.signal } : {}) });
    } catch (e) {
      if (c.signal?.aborted) throw e;
      throw new SeglogError("Internal", `Cannot reach Seglog at ${this.url}: ${causeText(e)}`, { retriable: true, code: "Unreachable", cause: e });
    }
    const type = res.headers.get("content-type") ?? "";
    if (res.ok && type.startsWith("application/octet-stream")) {
      return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok && res.status !== 207) throw errorFromReply(res, json, text);
    return { status: res.status, headers: res.headers, json };
  }

  /**
   * Runs `fn` again on retriable errors with exponential backoff and full jitter. An aborted
   * `signal` cuts the backoff short and stops retrying.
   */
  async retrying<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isSeglogError(e) || !e.retriable || attempt >= this.maxAttempts || signal?.aborted) throw e;
        await sleep(this.backoffMs(attempt, e), signal);
      }
    }
  }

  backoffMs(attempt: number, e?: SeglogError): number {
    const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    return Math.max(e?.retryAfterMs ?? 0, Math.random() * ceiling);
  }

  get(path: string, query?: HttpCall["query"]): Promise<HttpReply> {
    return this.retrying(() => this.call({ method: "GET", path, ...(query ? { query } : {}) }));
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

function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}

function errorFromReply(res: Response, json: unknown, text: string): SeglogError {
  const err = (json as { error?: { kind?: unknown; message?: unknown; retriable?: unknown; code?: unknown } } | undefined)?.error;
  const retryAfter = Number(res.headers.get("retry-after"));
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
  if (err && isErrorKind(err.kind) && typeof err.message === "string") {
    return new SeglogError(err.kind, err.message, {
      retriable: err.retriable === true,
      ...(typeof err.code === "string" ? { code: err.code } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  // Not Seglog's own answer (API Gateway, a proxy): 429 and 5xx may pass, the rest will not.
  const retriable = res.status === 429 || res.status >= 500;
  return new SeglogError(
    res.status === 429 ? "Throttled" : res.status === 404 ? "NotFound" : res.status < 500 ? "Invalid" : "Internal",
    `HTTP ${res.status} from ${res.url}: ${text.slice(0, 200)}`,
    { retriable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
  );
}
