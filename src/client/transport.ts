/**
 * How the clients' requests go over the wire: to the API, and the consumers' own GETs of
 * segments by presigned URL. One request in, status, headers and the whole body out.
 *
 * The default is Node's own `http`/`https` with their keep-alive agents, and the body goes once
 * into a buffer of the answer's `content-length`. With the global `fetch` (undici) the consumer
 * spent a third to a half more CPU per MB (the bench: 7.3–7.6 against 4.9–6.1 ms at 1 MiB
 * segments, 8.2–8.5 against 5.2–5.5 at 256 KiB). A `ClientOptions.transport` of one's own (a
 * proxy, a test's faults) replaces it, as the AWS SDK's `requestHandler` does. Redirects are
 * answers, not followed: neither the API nor a presigned S3 GET redirects.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface WireRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly signal?: AbortSignal;
}

export interface WireResponse {
  readonly status: number;
  /** A header of the answer by its name in lower case. */
  header(name: string): string | undefined;
  readonly body: Uint8Array;
}

/** Sends one request. A request that gets no answer rejects with Node's error (its `code`,
 * as ECONNREFUSED), and one whose `signal` aborts with an `AbortError`. */
export type Transport = (request: WireRequest) => Promise<WireResponse>;

/** A connection silent for this long fails, as undici's body and headers timeouts do. */
const IDLE_TIMEOUT_MS = 300_000;
/** A connection not made within this long fails, as undici's connect timeout does. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Answers up to this long are read into one buffer of their length; longer ones chunk by chunk. */
const MAX_PREALLOCATED_BYTES = 256 * 1024 * 1024;

export const nodeTransport: Transport = ({ method, url, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method,
        headers: bytes === undefined ? headers : { ...headers, "content-length": String(bytes.byteLength) },
        timeout: IDLE_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      },
      (res) => readBody(res).then((answer) => resolve({ status: res.statusCode ?? 0, header: (name) => headerOf(res, name), body: answer }), reject),
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })));
    req.on("socket", (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })), CONNECT_TIMEOUT_MS);
      const done = () => clearTimeout(timer);
      socket.once("connect", done);
      socket.once("close", done);
    });
    req.on("error", reject);
    req.end(bytes);
  });

/** The whole body: into one buffer of its `content-length` where the answer gives it. */
function readBody(res: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const length = Number(res.headers["content-length"] ?? NaN);
    const known = Number.isSafeInteger(length) && length >= 0 && length <= MAX_PREALLOCATED_BYTES;
    let body = known ? new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length) : undefined;
    const chunks: Uint8Array[] = [];
    let at = 0;
    res.on("data", (chunk: Buffer) => {
      if (body && at + chunk.length <= body.length) chunk.copy(body, at);
      else {
        // No length given, or more than it said: keep what came, as it came.
        if (body) chunks.push(body.subarray(0, at));
        body = undefined;
        chunks.push(chunk);
      }
      at += chunk.length;
    });
    res.on("end", () => {
      if (body) return resolve(body.subarray(0, at));
      const whole = Buffer.concat(chunks);
      resolve(new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength));
    });
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(Object.assign(new Error("the connection closed before the answer's end"), { code: "ECONNRESET" }));
    });
  });
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
