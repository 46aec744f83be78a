import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { SeglogError } from "../core/errors.ts";
import { toSeglogError } from "./aws-errors.ts";

/** The S3 side of the log: immutable segment objects, written once, read whole or by range. */
export class SegmentObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: "application/vnd.kafka.record-batch",
        }),
      );
    } catch (e) {
      throw toSeglogError(e);
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
