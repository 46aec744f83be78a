import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Where Seglog keeps its data: one bucket and one table per deployment. */
export interface SeglogEnv {
  bucket: string;
  table: string;
}

export interface SeglogClients {
  s3: S3Client;
  dynamo: DynamoDBClient;
}

export interface ClientOptions {
  /** Total attempts per request, first try included (SDK standard retry).
   * @default `AWS_MAX_ATTEMPTS`, else 3 */
  maxAttempts?: number;
  /** Socket inactivity timeout per attempt: a stalled request fails (`TimeoutError`, which the
   * SDK retries) instead of running until the function's own timeout.
   * @default `SEGLOG_STORAGE_TIMEOUT_MS`, else the SDK's (none) */
  requestTimeoutMs?: number;
}

type Credentials = NonNullable<S3ClientConfig["credentials"]>;

/** What {@link createClients} derives from the environment; pure, so it can be checked alone. */
export interface ClientSettings {
  region: string;
  /** Explicit endpoints (`AWS_ENDPOINT_URL_<SERVICE>` over `AWS_ENDPOINT_URL`); absent → AWS. */
  s3Endpoint?: string;
  dynamoEndpoint?: string;
  /** True when the endpoint is an emulator: any explicit endpoint outside AWS's own domains. */
  s3Local: boolean;
  dynamoLocal: boolean;
  /** Static credentials for emulators; absent → the SDK's default provider chain. */
  credentials?: Credentials;
  maxAttempts: number;
  retryMode: "standard" | "adaptive";
  requestTimeoutMs?: number;
}

export const DEFAULT_REGION = "us-east-1";
export const DEFAULT_BUCKET = "seglog";
export const DEFAULT_TABLE = "seglog";
const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * s3rver accepts only this access key (its built-in account); DynamoDB Local with `-sharedDb`,
 * dynalite and LocalStack accept anything, so one dummy pair serves every emulator.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export function readSeglogEnv(env: Env = process.env): SeglogEnv {
  return {
    bucket: nonEmpty(env.SEGLOG_BUCKET) ?? DEFAULT_BUCKET,
    table: nonEmpty(env.SEGLOG_TABLE) ?? DEFAULT_TABLE,
  };
}

export function resolveClientSettings(env: Env = process.env, options: ClientOptions = {}): ClientSettings {
  const ignoreEndpoints = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === "true";
  const common = ignoreEndpoints ? undefined : nonEmpty(env.AWS_ENDPOINT_URL);
  const s3Endpoint = ignoreEndpoints ? undefined : (nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? common);
  const dynamoEndpoint = ignoreEndpoints ? undefined : (nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? common);
  const s3Local = s3Endpoint !== undefined && !isAwsEndpoint(s3Endpoint);
  const dynamoLocal = dynamoEndpoint !== undefined && !isAwsEndpoint(dynamoEndpoint);
  const settings: ClientSettings = {
    region: nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION,
    s3Local,
    dynamoLocal,
    maxAttempts: options.maxAttempts ?? positiveInt(env.AWS_MAX_ATTEMPTS) ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: env.AWS_RETRY_MODE === "adaptive" ? "adaptive" : "standard",
  };
  const requestTimeoutMs = options.requestTimeoutMs ?? positiveInt(env.SEGLOG_STORAGE_TIMEOUT_MS);
  if (requestTimeoutMs !== undefined) settings.requestTimeoutMs = requestTimeoutMs;
  if (s3Endpoint !== undefined) settings.s3Endpoint = s3Endpoint;
  if (dynamoEndpoint !== undefined) settings.dynamoEndpoint = dynamoEndpoint;
  if (s3Local || dynamoLocal) settings.credentials = localCredentials(env);
  return settings;
}

/**
 * AWS SDK clients configured from the standard variables, so the same code runs against AWS,
 * LocalStack or `seglog dev` unchanged. Callers own the clients (`destroy()` them) and may add
 * middleware, e.g. fault injection: `clients.s3.middlewareStack.add(...)`.
 *
 * Object bodies are sent as SigV4's `UNSIGNED-PAYLOAD`, as the AWS SDK for Java does over HTTPS:
 * TLS and the CRC32 checksum the SDK adds (and S3 verifies) already cover the body, and hashing it
 * for the signature cost the produce function 1.5 ms of CPU per MB (bench profile). An emulator on
 * this machine gets it too; a body to any other plain-HTTP endpoint (a MinIO across the network,
 * where emulators get no checksum either) stays signed.
 */
export function createClients(env: Env = process.env, options: ClientOptions = {}): SeglogClients {
  const s = resolveClientSettings(env, options);
  // `socketTimeout` is the inactivity timeout; the handler's `requestTimeout` only logs a warning.
  const requestHandler = s.requestTimeoutMs === undefined ? {} : { requestHandler: { socketTimeout: s.requestTimeoutMs } };
  const common = { region: s.region, maxAttempts: s.maxAttempts, retryMode: s.retryMode, cacheMiddleware: true, ...requestHandler };
  const s3 = new S3Client({
    ...common,
    ...(s.s3Endpoint === undefined ? {} : { endpoint: s.s3Endpoint }),
    ...(s.s3Local
      ? {
          // Emulators serve buckets by path only. s3rver stores aws-chunked bodies (the SDK's
          // default when it adds a checksum) with the chunk framing in them: send plain bodies.
          forcePathStyle: true,
          requestChecksumCalculation: "WHEN_REQUIRED" as const,
          responseChecksumValidation: "WHEN_REQUIRED" as const,
          ...(s.credentials ? { credentials: s.credentials } : {}),
        }
      : {}),
  });
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { protocol?: string; hostname?: string; headers?: Record<string, string>; body?: unknown };
      if (request.headers && ArrayBuffer.isView(request.body) && (request.protocol === "https:" || (s.s3Local && isLoopback(request.hostname)))) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    { step: "build", name: "seglogUnsignedPayload" },
  );
  const dynamo = new DynamoDBClient({
    ...common,
    ...(s.dynamoEndpoint === undefined ? {} : { endpoint: s.dynamoEndpoint }),
    ...(s.dynamoLocal && s.credentials ? { credentials: s.credentials } : {}),
  });
  // The SDK's logger middleware builds a redacted copy of every request and answer for a logger
  // that, unless one is configured, discards it: a few per cent of a small request's CPU.
  for (const client of [s3, dynamo]) {
    client.middlewareStack.remove("loggerMiddleware");
    forgetHandlersOnChange(client);
  }
  return { s3, dynamo };
}

/**
 * The SDK's handler cache (`cacheMiddleware`) resolves a command class's middleware stack once
 * per client instead of on every call: 0.1–0.5 ms of CPU per call here (docs/performance.md), up to a fifth of
 * a DynamoDB call's. The SDK does not notice middleware added to the client after the first call
 * (fault injection, the bench's call counting), so a change to the client's stack drops the
 * cache. A command with middleware of its own must be sent with options (`send(command, {})`),
 * which skips the cache: a cached stack is shared by every command of its class. So is the
 * context its middleware write the endpoint into between awaits, which names the bucket: one S3
 * client serves one bucket. Config read when the stack is resolved (`requestHandler`, `logger`)
 * must be set before the first call.
 */
function forgetHandlersOnChange(client: S3Client | DynamoDBClient): void {
  const stack = client.middlewareStack as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["add", "addRelativeTo", "use", "remove", "removeByTag"]) {
    const original = stack[method] as (...args: unknown[]) => unknown;
    stack[method] = (...args: unknown[]) => {
      delete (client as unknown as { handlers?: unknown }).handlers;
      return original.apply(stack, args);
    };
  }
}

/** Emulators get the environment's static keys when both are set, else the dummy pair: a local
 * run must need no AWS account, and real keys should not be required to talk to an emulator. */
function localCredentials(env: Env): Credentials {
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId === undefined || secretAccessKey === undefined) return { ...LOCAL_CREDENTIALS };
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

function isLoopback(hostname: string | undefined): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" || /^127\./.test(hostname ?? "");
}

/** VPC, FIPS and dual-stack endpoints are still AWS: they keep AWS's checksums and credentials. */
function isAwsEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return false;
  }
  return /(^|\.)(amazonaws\.com|amazonaws\.com\.cn|api\.aws)$/.test(host);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function positiveInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}
