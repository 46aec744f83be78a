import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { SeglogError } from "../core/errors.ts";
import { rangeHeader, type ByteSpan } from "../core/segment-locations.ts";
import { toSeglogError } from "./aws-errors.ts";

type PresignRequest = Parameters<SignatureV4["presign"]>[0];
type Presigner = { readonly signer: SignatureV4; readonly template: PresignRequest; readonly host: string };

/** An object key as a URL path, as the S3 client writes it: each segment percent-encoded, `/` kept. */
const encodeKey = (key: string): string =>
  key
    .split("/")
    .map((part) => encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");

/** The S3 side of the log: immutable segment objects, written once, read whole or by range. */
export class SegmentObjects {
  private presigning: Promise<Presigner> | undefined;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array): Promise<void> {
    const input = { Bucket: this.bucket, Key: key, Body: body as Uint8Array | undefined, ContentLength: body.byteLength, ContentType: "application/vnd.kafka.record-batch" };
    try {
      await this.s3.send(new PutObjectCommand(input));
    } catch (e) {
      throw toSeglogError(e);
    } finally {
      // The client's handler cache keeps the first command of each class (clients.ts): let go of
      // the body, which may be a merged segment of 16 MiB.
      input.Body = undefined;
    }
  }

  /** Reads an object, or `[start, end)` of it. A missing object is a retriable `Internal` error:
   * the index moved under the reader (retention or merging), and a re-read of the index fixes it. */
  async get(key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
        }),
      );
      if (!out.Body) throw new Error(`empty body for ${key}`);
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey || (e instanceof Error && e.name === "NoSuchKey")) {
        throw new SeglogError("Internal", `Segment ${key} is gone; re-read the index`, {
          retriable: true,
          code: "SegmentGone",
          cause: e,
        });
      }
      throw toSeglogError(e);
    }
  }

  /**
   * A presigned GET of an object, or of `range` of it, valid for `expiresInSeconds`: the
   * client's own read of a segment. A range is a signed header, so the URL reads only those bytes
   * (a shared object also holds other partitions' batches, and those of failed reservations). The
   * S3 client builds one request (endpoint, path or virtual-host style) once; each URL is that
   * request with the object's path, signed in its query string as `@aws-sdk/s3-request-presigner`
   * signs. Building a request through the client per URL cost about 0.3 ms of CPU; this costs the
   * signature alone.
   */
  async presignGet(key: string, expiresInSeconds: number, range?: ByteSpan): Promise<string> {
    try {
      this.presigning ??= this.presigner().catch((e: unknown) => {
        this.presigning = undefined;
        throw e;
      });
      const { signer, template, host } = await this.presigning;
      const signed = await signer.presign(
        {
          ...template,
          path: template.path + encodeKey(key),
          headers: { host, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD", ...(range === undefined ? {} : { range: rangeHeader(range) }) },
        },
        { expiresIn: expiresInSeconds },
      );
      const url = new URL(`${signed.protocol}//${host}${signed.path}`);
      for (const [name, value] of Object.entries(signed.query ?? {})) {
        for (const one of Array.isArray(value) ? value : [value]) if (one !== null) url.searchParams.append(name, one);
      }
      return url.toString();
    } catch (e) {
      throw toSeglogError(e);
    }
  }

  /** The signer, the GET request the S3 client builds for this bucket (sent nowhere) with the
   * object's path cut off, and the host to sign (a default port left out, as a URL leaves it). */
  private async presigner(): Promise<Presigner> {
    const probe = "seglog-presign";
    let request: PresignRequest | undefined;
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: probe });
    command.middlewareStack.addRelativeTo(
      () => async (args: { request: unknown }) => {
        request = args.request as PresignRequest;
        return { output: { $metadata: {} }, response: {} };
      },
      { relation: "after", toMiddleware: "serializerMiddleware", name: "seglogPresign", override: true },
    );
    await this.s3.send(command, {}); // with options: past the client's handler cache (clients.ts)
    if (request === undefined || !request.path.endsWith(`/${probe}`)) throw new SeglogError("Internal", "The S3 client built no GET request to presign");
    const signer = new SignatureV4({
      service: "s3",
      region: await this.s3.config.region(),
      credentials: this.s3.config.credentials,
      sha256: this.s3.config.sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const host = new URL(`${request.protocol}//${request.hostname}${request.port === undefined ? "" : `:${request.port}`}`).host;
    return { signer, template: { ...request, path: request.path.slice(0, -probe.length) }, host };
  }

  /** One page of objects under a prefix, with their age. */
  async list(prefix: string, continuationToken?: string): Promise<{ objects: { key: string; size: number; lastModified: number }[]; next?: string }> {
    try {
      const out = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(continuationToken ? { ContinuationToken: continuationToken } : {}) }),
      );
      const objects = (out.Contents ?? []).map((o) => ({ key: o.Key ?? "", size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 }));
      return out.IsTruncated && out.NextContinuationToken ? { objects, next: out.NextContinuationToken } : { objects };
    } catch (e) {
      throw toSeglogError(e);
    }
  }

  /** Deletes objects, 1,000 per request; deleting a missing key is not an error. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      try {
        const out = await this.s3.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
        if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects: ${failed[0]?.Code} ${failed[0]?.Message}`);
      } catch (e) {
        throw toSeglogError(e);
      }
    }
  }
}
