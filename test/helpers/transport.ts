/**
 * Fault injection on the clients' wire (`ClientOptions.transport`): S3's answers to a consumer's
 * own GETs by presigned URL, made up or delayed, and a record of the answers the API gave.
 */
import { nodeTransport, type Transport, type WireRequest, type WireResponse } from "../../src/client/transport.ts";

export const isPresignedGet = (request: WireRequest): boolean => request.url.searchParams.has("X-Amz-Signature");

/** A transport on which `fault` may answer a presigned GET instead of S3 (or throw as a failed
 * connection does); everything else, and every GET it answers `undefined` for, goes through. */
export function interceptS3Gets(fault: (request: WireRequest) => WireResponse | Promise<WireResponse> | undefined): Transport {
  return async (request) => (isPresignedGet(request) ? await fault(request) : undefined) ?? nodeTransport(request);
}

/** An answer as S3 gives it for an error: its status and XML body. */
export function s3Error(status: number, code: string, message: string): WireResponse {
  return answer(status, `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

export function answer(status: number, body: string, headers: Record<string, string> = {}): WireResponse {
  return { status, header: (name) => headers[name], body: new Uint8Array(Buffer.from(body)) };
}

/** What Node's `http` throws when a connection fails. */
export const connectionFailed = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code });

/** An answer that never comes: rejects as an aborted request does once `signal` aborts (at once if it has). */
export const never = (signal: AbortSignal | undefined): Promise<never> =>
  new Promise((_, reject) => {
    const aborted = () => reject(new DOMException("This operation was aborted", "AbortError"));
    if (signal?.aborted) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
  });

export interface Answered {
  readonly url: string;
  readonly status: number;
  header(name: string): string | undefined;
}

/** A transport that passes everything through `inner` and keeps each answer, in order. */
export function recording(inner: Transport = nodeTransport): { readonly transport: Transport; readonly answers: Answered[] } {
  const answers: Answered[] = [];
  const transport: Transport = async (request) => {
    const res = await inner(request);
    answers.push({ url: request.url.href, status: res.status, header: (name) => res.header(name) });
    return res;
  };
  return { transport, answers };
}
