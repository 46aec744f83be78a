import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
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
}
