import { createHash, createHmac } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SegmentObjects } from "../../src/storage/objects.ts";

/**
 * SigV4 query-string signing written out from AWS's description ("Authenticating Requests:
 * Using Query Parameters"), independently of the SDK's signer: the check of the URLs the fetch
 * function hands to consumers, which this machine cannot send to AWS.
 */
function expectedSignature(url: URL, secret: string, signedHeaders: Record<string, string>): string {
  const q = url.searchParams;
  const amzDate = q.get("X-Amz-Date") ?? "";
  const [, date = "", region = "", service = ""] = /^[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get("X-Amz-Credential") ?? "") ?? [];
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...q.entries()]
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort() // by name: no parameter name here is a prefix of another
    .join("&");
  const names = Object.keys(signedHeaders).sort();
  const canonical = ["GET", url.pathname, query, ...names.map((n) => `${n}:${signedHeaders[n]}`), "", names.join(";"), "UNSIGNED-PAYLOAD"].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
  return createHmac("sha256", key).update(toSign).digest("hex");
}

describe("presigned segment URLs", () => {
  afterEach(() => void vi.useRealTimers());

  it("the verifier reproduces AWS's published example of a presigned GET", () => {
    // From AWS's S3 documentation: examplebucket/test.txt, 24 h, signed 2013-05-24.
    const url = new URL(
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
    );
    expect(expectedSignature(url, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", { host: "examplebucket.s3.amazonaws.com" })).toBe(
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  it("signs a virtual-hosted GET with the function role's session token, the expiry, and the byte range as a signed header", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-21T10:00:00Z"), toFake: ["Date"] });
    const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret/with+chars=", sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE+/=" };
    const s3 = new S3Client({ region: "eu-west-1", credentials });
    const objects = new SegmentObjects(s3, "seglog-bucket-1");
    const key = "log/orders.v1/abc123/7/00000000000000000042.log";
    const url = new URL(await objects.presignGet(key, 300, { start: 100, end: 200 }));
    expect(url.origin).toBe("https://seglog-bucket-1.s3.eu-west-1.amazonaws.com");
    expect(url.pathname).toBe(`/${key}`);
    const q = url.searchParams;
    expect(q.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(q.get("X-Amz-Credential")).toBe("ASIAEXAMPLE/20261121/eu-west-1/s3/aws4_request");
    expect(q.get("X-Amz-Date")).toBe("20261121T100000Z");
    expect(q.get("X-Amz-Expires")).toBe("300");
    expect(q.get("X-Amz-Security-Token")).toBe(credentials.sessionToken);
    expect(q.get("X-Amz-SignedHeaders")).toBe("host;range");
    expect(q.get("X-Amz-Signature")).toBe(
      expectedSignature(url, credentials.secretAccessKey, { host: "seglog-bucket-1.s3.eu-west-1.amazonaws.com", range: "bytes=100-199" }),
    );
    // A whole object: only the host is signed.
    const whole = new URL(await objects.presignGet(key, 60));
    expect(whole.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect(whole.searchParams.get("X-Amz-Signature")).toBe(expectedSignature(whole, credentials.secretAccessKey, { host: whole.host }));
    s3.destroy();
  });

  it("signs the host a URL keeps: path style with a port, and an explicit default port left out", async () => {
    const credentials = { accessKeyId: "AKID", secretAccessKey: "SECRET" };
    for (const [endpoint, origin] of [
      ["http://127.0.0.1:4566", "http://127.0.0.1:4566"],
      ["https://s3.example.internal:443", "https://s3.example.internal"],
    ] as const) {
      const s3 = new S3Client({ region: "us-east-1", credentials, endpoint, forcePathStyle: true });
      const url = new URL(await new SegmentObjects(s3, "seglog").presignGet("log/t/id/0/00000000000000000000.log", 300));
      expect(url.origin).toBe(origin);
      expect(url.pathname).toBe("/seglog/log/t/id/0/00000000000000000000.log");
      expect(url.searchParams.get("X-Amz-Signature")).toBe(expectedSignature(url, "SECRET", { host: url.host }));
      s3.destroy();
    }
  });

  it("refuses an expiry beyond SigV4's 7 days with a typed error", async () => {
    const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" } });
    await expect(new SegmentObjects(s3, "seglog").presignGet("log/k", 604_801)).rejects.toMatchObject({ kind: "Internal" });
    s3.destroy();
  });
});
