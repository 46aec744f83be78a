/**
 * SigV4 signing for deployments whose API Gateway routes use IAM authorization (`infra/api.ts`).
 * The credentials come from the AWS SDK's default chain (environment, SSO and profiles in
 * `~/.aws`, web identity, ECS and EC2 roles), resolved on the first signed request and refreshed
 * by the chain when they expire. The region comes from the API's host name, else `AWS_REGION`.
 *
 * Signing is on when the URL is an AWS API endpoint (`<id>.execute-api.<region>.amazonaws.com`,
 * also `.amazonaws.com.cn` and VPC endpoint names) or when `SEGLOG_SIGV4=true` (a custom domain
 * in front of the API); `SEGLOG_SIGV4=false` turns it off. Local URLs (`seglog dev`,
 * LocalStack) are never signed by default.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** What the HTTP transport needs from a signer: the headers to add to one request. */
export interface RequestSigner {
  sign(request: SignableRequest): Promise<Record<string, string>>;
}

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  /** Headers the request will carry (they are signed, so they must be sent unchanged). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
}

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export type CredentialsProvider = () => Promise<AwsCredentials>;

export interface SigV4SignerOptions {
  readonly region: string;
  /** @default "execute-api" */
  readonly service?: string;
  /** @default the AWS SDK's default credential provider chain */
  readonly credentials?: AwsCredentials | CredentialsProvider;
  /** Fixed signing time, for tests. @default now */
  readonly signingDate?: Date;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `<id>.execute-api.<region>.amazonaws.com[.cn]`, and `<vpce>-<id>.execute-api.<region>.vpce.amazonaws.com`. */
const EXECUTE_API_HOST = /^[a-z0-9-]+\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/** The region of an API Gateway endpoint URL, or undefined when it is not one. */
export function executeApiRegion(url: string | URL): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  return EXECUTE_API_HOST.exec(host)?.[1];
}

/**
 * The signer a client should use for `url`: SigV4 for AWS API endpoints (or `SEGLOG_SIGV4=true`),
 * none for anything else (or `SEGLOG_SIGV4=false`).
 */
export function signerForUrl(url: string, env: Env = process.env): RequestSigner | undefined {
  const flag = env["SEGLOG_SIGV4"]?.trim().toLowerCase();
  if (flag === "false" || flag === "0") return undefined;
  const region = executeApiRegion(url);
  if (region === undefined && flag !== "true" && flag !== "1") return undefined;
  return sigV4Signer({ region: region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1" });
}

export function sigV4Signer(options: SigV4SignerOptions): RequestSigner {
  const signer = new SignatureV4({
    service: options.service ?? "execute-api",
    region: options.region,
    credentials: credentialsProvider(options.credentials),
    sha256: NodeSha256,
    // API Gateway needs no payload-hash header; the hash is still part of the signature.
    applyChecksum: false,
    uriEscapePath: true,
  });
  return {
    async sign(request) {
      const { url } = request;
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of url.searchParams) {
        const prev = query[k];
        query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
      }
      const signed = await signer.sign(
        {
          method: request.method.toUpperCase(),
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port === "" ? {} : { port: Number(url.port) }),
          path: url.pathname,
          query,
          headers: { ...request.headers, host: url.host },
          ...(request.body === undefined ? {} : { body: request.body }),
        },
        options.signingDate === undefined ? {} : { signingDate: options.signingDate },
      );
      // Only the headers signing adds; `host` is sent by fetch itself, from the same URL.
      const added: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) {
        if (k.toLowerCase() !== "host" && request.headers[k] === undefined) added[k] = String(v);
      }
      return added;
    },
  };
}

function credentialsProvider(credentials: AwsCredentials | CredentialsProvider | undefined): CredentialsProvider {
  if (typeof credentials === "function") return credentials;
  if (credentials !== undefined) return async () => credentials;
  let chain: CredentialsProvider | undefined;
  return async () => {
    // Loaded on first use: local runs never pay for the provider chain's modules.
    chain ??= (await import("@aws-sdk/credential-provider-node")).defaultProvider();
    return chain();
  };
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytesOf = (data: SourceData): Buffer =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256, or HMAC-SHA-256 with a secret, in the shape the signer expects: node:crypto underneath. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", bytesOf(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}
