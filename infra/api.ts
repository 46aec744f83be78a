import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Annotations, Names, Validations } from "aws-cdk-lib";
import { Construct } from "constructs";
import { validateTopicName } from "../src/core/topic-config.ts";
import { checkGroupName } from "../src/groups/validate.ts";
import { routes as ROUTES } from "../src/http/app.ts";
import type { FunctionName } from "../src/http/router.ts";
import { DEFAULT_LOG_OPTIONS, checkedLogOptions } from "../src/log/options.ts";
import { SeglogFunction } from "./function.ts";
import { SeglogStorage } from "./storage.ts";

export type ApiType = "http" | "rest";
export type ApiAuthorization = "iam" | "none";

/** The route table (`src/http/app.ts`): one API Gateway route per entry, per-topic paths. */
export interface ApiRoute {
  readonly method: string;
  readonly path: string;
  readonly fn: FunctionName;
}

export const API_ROUTES: readonly ApiRoute[] = ROUTES.map(({ method, path, fn }) => ({ method, path, fn }));

/**
 * Memory and timeout per function. Lambda gives CPU in proportion to memory (1,769 MB is one
 * vCPU) and bills GB-seconds, so more memory costs little extra where it shortens CPU-bound work.
 * - produce: parses up to 6 MB bodies, checks CRC-32C over every byte, patches and PUTs them,
 *   hence 1,024 MB. The timeout (10 s) bounds how long a reservation can stay open, so it must
 *   stay well below the abort timeout (30 s).
 * - fetch: long polls up to `maxWaitMs` (at most 20 s), then GETs up to 6 MB in parallel and may
 *   decompress batches for JSON answers; 28 s covers the longest poll (20 s), the reads it
 *   starts within its read budget (5 s), those GETs' ends and the answer, and stays under API
 *   Gateway's 29 s integration limit.
 * - admin, groups: small JSON items; 256 MB. Creating a topic writes one head item per
 *   partition (batches of parallel writes), hence 20 s for admin.
 */
export const FUNCTION_DEFAULTS: Readonly<Record<FunctionName, { readonly memoryMb: number; readonly timeoutSeconds: number }>> = {
  produce: { memoryMb: 1024, timeoutSeconds: 10 },
  fetch: { memoryMb: 1024, timeoutSeconds: 28 },
  admin: { memoryMb: 256, timeoutSeconds: 20 },
  groups: { memoryMb: 256, timeoutSeconds: 10 },
};

/** API Gateway stops waiting for an integration after 29 s (REST) or 30 s (HTTP). */
const INTEGRATION_TIMEOUT_SECONDS = 29;
/** Socket inactivity timeout of the API functions' storage requests (`SEGLOG_STORAGE_TIMEOUT_MS`):
 * DynamoDB and S3 answer in milliseconds, and a body streams without pause. */
export const API_STORAGE_TIMEOUT_MS = 3_000;
/** Time between the produce function's timeout and a reader's abort: requests in flight when the
 * function was stopped, and clock differences between function instances. */
export const ABORT_MARGIN_MS = 10_000;

export interface SeglogApiProps {
  /** Where the functions keep data. @default a new `SeglogStorage` in this construct */
  readonly storage?: SeglogStorage;
  /**
   * `http`: an HTTP API (cheaper, lower latency). `rest`: a REST API, which LocalStack's free
   * edition emulates. @default the context value `apiType` (`-c apiType=rest`), else `http`
   */
  readonly apiType?: ApiType;
  /**
   * `iam`: every route needs a SigV4-signed request from a principal allowed `execute-api:Invoke`
   * on it. `none` is for development only: anyone who knows the URL can read and write.
   * @default the context value `authorization`, else `iam`
   */
  readonly authorization?: ApiAuthorization;
  /** REST API only: the stage, which is the first segment of the URL path. @default "prod" */
  readonly restStageName?: string;
  /** @default 1024 */
  readonly produceMemoryMb?: number;
  /** Must be at least `ABORT_MARGIN_MS` below `abortTimeoutMs`. @default 10 */
  readonly produceTimeoutSeconds?: number;
  /** @default 1024 */
  readonly fetchMemoryMb?: number;
  /** Must exceed the longest long poll (20 s) plus the read budget (5 s), and stay within API Gateway's 29 s. @default 28 */
  readonly fetchTimeoutSeconds?: number;
  /** @default 256 */
  readonly adminMemoryMb?: number;
  /** @default 20 */
  readonly adminTimeoutSeconds?: number;
  /** @default 256 */
  readonly groupsMemoryMb?: number;
  /** @default 10 */
  readonly groupsTimeoutSeconds?: number;
  /**
   * How old a missing reservation must be before readers abort it (`SEGLOG_ABORT_TIMEOUT_MS`).
   * @default 30000 (the log engine's default)
   */
  readonly abortTimeoutMs?: number;
  /**
   * How often a waiting long poll re-reads a partition's head (`SEGLOG_POLL_INTERVAL_MS`): a
   * record waits up to this long before a waiting consumer's fetch sees it, and each re-read is a
   * DynamoDB read of each partition the fetch waits on. @default 100 (the log engine's default)
   */
  readonly fetchPollIntervalMs?: number;
  /** Steady-state requests per second for the whole API. @default the account's limit */
  readonly throttlingRateLimitPerSecond?: number;
  /** @default the account's limit */
  readonly throttlingBurstLimit?: number;
  /** Function and access log retention. @default one month */
  readonly logRetentionDays?: logs.RetentionDays;
}

/**
 * The Lambda functions of the route table and the API Gateway in front of them. Each route of
 * `src/http/app.ts` becomes one API Gateway route with the same path, so an IAM policy can grant
 * one topic: `execute-api:Invoke` on `…/POST/v1/topics/orders/records` and the other routes its
 * clients call (`grantProduce`, `grantFetch`).
 */
export class SeglogApi extends Construct {
  readonly storage: SeglogStorage;
  readonly apiType: ApiType;
  readonly authorization: ApiAuthorization;
  /** The base URL for `seglog --url` / `SEGLOG_URL` (requests go to `<url>/v1/...`). */
  readonly url: string;
  /** The HTTP API's or REST API's id (the first label of its execute-api host name). */
  readonly apiId: string;
  readonly functions: Readonly<Partial<Record<FunctionName, lambda.Function>>>;
  readonly httpApi: apigwv2.HttpApi | undefined;
  readonly restApi: apigw.RestApi | undefined;
  readonly accessLogs: logs.LogGroup;
  /** The `SEGLOG_ABORT_TIMEOUT_MS` every function gets; the maintenance function needs the same. */
  readonly abortTimeoutMs: number;

  constructor(scope: Construct, id: string, props: SeglogApiProps = {}) {
    super(scope, id);
    this.storage = props.storage ?? new SeglogStorage(this, "Storage");
    this.apiType = oneOf("apiType", props.apiType ?? this.node.tryGetContext("apiType") ?? "http", ["http", "rest"]);
    this.authorization = oneOf("authorization", props.authorization ?? this.node.tryGetContext("authorization") ?? "iam", ["iam", "none"]);
    const sizing = functionSizing(props);
    this.abortTimeoutMs = props.abortTimeoutMs ?? DEFAULT_LOG_OPTIONS.abortTimeoutMs;
    validateTimeouts(sizing, this.abortTimeoutMs);

    const pollIntervalMs = props.fetchPollIntervalMs;
    if (pollIntervalMs !== undefined) {
      try {
        checkedLogOptions({ pollIntervalMs });
      } catch (e) {
        throw new Error(`fetchPollIntervalMs: ${(e as Error).message}`);
      }
    }
    const environment = {
      SEGLOG_BUCKET: this.storage.bucket.bucketName,
      SEGLOG_TABLE: this.storage.table.tableName,
      SEGLOG_ABORT_TIMEOUT_MS: String(this.abortTimeoutMs),
      // A storage request whose socket stays silent this long is given up and retried by the SDK,
      // rather than holding the function until its own timeout (an untyped 5xx from API Gateway,
      // and for produce a reservation left for readers to abort).
      SEGLOG_STORAGE_TIMEOUT_MS: String(API_STORAGE_TIMEOUT_MS),
    };
    const functions: Partial<Record<FunctionName, lambda.Function>> = {};
    for (const fn of [...new Set(API_ROUTES.map((r) => r.fn))]) {
      const f = new SeglogFunction(this, capitalize(fn), {
        name: fn,
        description: `Seglog ${fn}: ${API_ROUTES.filter((r) => r.fn === fn).map((r) => `${r.method} ${r.path}`).join(", ")}`.slice(0, 256),
        ...sizing[fn],
        // Only a fetch waits in a long poll.
        environment: fn === "fetch" && pollIntervalMs !== undefined ? { ...environment, SEGLOG_POLL_INTERVAL_MS: String(pollIntervalMs) } : environment,
        ...(props.logRetentionDays === undefined ? {} : { logRetentionDays: props.logRetentionDays }),
      });
      this.storage.grantRole(fn, f.role);
      functions[fn] = f.function;
    }
    this.functions = functions;

    this.accessLogs = new logs.LogGroup(this, "AccessLogs", { retention: props.logRetentionDays ?? logs.RetentionDays.ONE_MONTH });
    const throttle = {
      ...(props.throttlingRateLimitPerSecond === undefined ? {} : { rateLimit: props.throttlingRateLimitPerSecond }),
      ...(props.throttlingBurstLimit === undefined ? {} : { burstLimit: props.throttlingBurstLimit }),
    };
    if (this.apiType === "http") {
      const { api, url } = this.buildHttpApi(throttle);
      this.httpApi = api;
      this.restApi = undefined;
      this.url = url;
      this.apiId = api.apiId;
    } else {
      this.restApi = this.buildRestApi(props.restStageName ?? "prod", throttle);
      this.httpApi = undefined;
      this.url = this.restApi.url;
      this.apiId = this.restApi.restApiId;
    }

    if (this.authorization === "none") {
      Annotations.of(this).addWarningV2(
        "seglog:authorizationNone",
        "authorization=none: anyone who knows the API URL can read, write and delete topics. For development only.",
      );
      Validations.of(this).acknowledge(
        { id: "AwsSolutions-APIG4", reason: "authorization=none was chosen explicitly, for a development deployment." },
        { id: "AwsSolutions-COG4", reason: "authorization=none was chosen explicitly, for a development deployment." },
      );
    }
  }

  private buildHttpApi(throttle: apigwv2.ThrottleSettings): { api: apigwv2.HttpApi; url: string } {
    const api = new apigwv2.HttpApi(this, "HttpApi", {
      description: "Seglog: a serverless, Kafka-style message log",
      createDefaultStage: false,
    });
    const stage = api.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      ...(Object.keys(throttle).length > 0 ? { throttle } : {}),
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            caller: "$context.identity.caller",
            userArn: "$context.identity.userArn",
            requestTime: "$context.requestTime",
            routeKey: "$context.routeKey",
            path: "$context.path",
            status: "$context.status",
            responseLength: "$context.responseLength",
            latencyMs: "$context.responseLatency",
            integrationLatencyMs: "$context.integrationLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    const authorizer = this.authorization === "iam" ? new HttpIamAuthorizer() : new apigwv2.HttpNoneAuthorizer();
    for (const route of API_ROUTES) {
      const fn = this.functions[route.fn];
      if (!fn) throw new Error(`No function for ${route.fn}`);
      let integration = integrations.get(route.fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${capitalize(route.fn)}Integration`, fn, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(route.fn, integration);
      }
      api.addRoutes({ path: route.path, methods: [httpMethod(route.method)], integration, authorizer });
    }
    return { api, url: stage.url };
  }

  private buildRestApi(stageName: string, throttle: apigwv2.ThrottleSettings): apigw.RestApi {
    const api = new apigw.RestApi(this, "RestApi", {
      // Its CloudWatch metrics are keyed by this name: one of its own, so that two stacks (or
      // another API named "RestApi" in the region) do not share the dashboard's and alarms' data.
      restApiName: Names.uniqueResourceName(this, { maxLength: 128 }),
      description: "Seglog: a serverless, Kafka-style message log",
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Binary produce bodies and fetch answers pass through base64-encoded; JSON stays text.
      binaryMediaTypes: ["application/octet-stream"],
      // The API Gateway CloudWatch role is one per account and region; a stack must not own it.
      // The stage's access logs need it set, once per account and region (docs/deploy.md).
      cloudWatchRole: false,
      deployOptions: {
        stageName,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        ...(throttle.rateLimit === undefined ? {} : { throttlingRateLimit: throttle.rateLimit }),
        ...(throttle.burstLimit === undefined ? {} : { throttlingBurstLimit: throttle.burstLimit }),
      },
      defaultMethodOptions: {
        authorizationType: this.authorization === "iam" ? apigw.AuthorizationType.IAM : apigw.AuthorizationType.NONE,
      },
    });
    const integrations = new Map<FunctionName, apigw.LambdaIntegration>();
    for (const route of API_ROUTES) {
      const fn = this.functions[route.fn];
      if (!fn) throw new Error(`No function for ${route.fn}`);
      let integration = integrations.get(route.fn);
      if (!integration) {
        integration = new apigw.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
        integrations.set(route.fn, integration);
      }
      api.root.resourceForPath(route.path).addMethod(route.method, integration);
    }
    Validations.of(api).acknowledge(
      {
        id: "AwsSolutions-APIG2",
        reason: "Every handler validates its path, query and body itself and answers typed 400s; API Gateway models would duplicate that.",
      },
      {
        id: "AwsSolutions-APIG3",
        reason:
          "IAM authorization rejects unsigned requests before any function runs; a WAF web ACL costs a monthly fee per API " +
          "and per request, so attach one per deployment where the API faces untrusted callers (HTTP APIs cannot have one).",
      },
      {
        id: "AwsSolutions-APIG6",
        reason:
          "Execution logging is off: access logs (which need the account-wide API Gateway CloudWatch role set once, " +
          "docs/deploy.md) are on, and the functions log every request.",
      },
      { id: "AwsSolutions-COG4", reason: "Routes use IAM (SigV4) authorization, not Cognito: the callers are AWS principals." },
    );
    return api;
  }

  /** Allows `execute-api:Invoke` on one method and path of this API (`*` in either matches all). */
  grantInvoke(grantee: iam.IGrantable, method = "*", path = "/*"): iam.Grant {
    const arn = this.httpApi ? this.httpApi.arnForExecuteApi(method, path, "*") : (this.restApi as apigw.RestApi).arnForExecuteApi(method, path, "*");
    return iam.Grant.addToPrincipal({ grantee, actions: ["execute-api:Invoke"], resourceArns: [arn] });
  }

  /**
   * Allows the routes of the given functions, for one topic and one group, or all (`*`). Other
   * path parameters (partition, member id) match anything.
   */
  grantRoutes(grantee: iam.IGrantable, fns: readonly FunctionName[], topic = "*", group = "*"): void {
    if (topic !== "*") validateTopicName(topic);
    if (group !== "*") checkGroupName(group);
    for (const route of API_ROUTES) {
      if (!fns.includes(route.fn)) continue;
      const path = route.path.replace("{topic}", topic).replace("{group}", group).replace(/\{[^}]+\}/g, "*");
      this.grantInvoke(grantee, route.method, path);
    }
  }

  /**
   * Produce to one topic (or all): `POST /v1/topics/{topic}/records`, the other produce routes
   * (`POST /v1/producers` for idempotent producers), and describing the topic (the SDK's
   * Producer partitions on the client, so it reads the partition count).
   */
  grantProduce(grantee: iam.IGrantable, topic = "*"): void {
    this.grantRoutes(grantee, ["produce"], topic);
    this.grantInvoke(grantee, "GET", `/v1/topics/${topic}`);
  }

  /** Fetch from one topic (or all), and describe it (consumers read the partition count). */
  grantFetch(grantee: iam.IGrantable, topic = "*"): void {
    this.grantRoutes(grantee, ["fetch"], topic);
    this.grantInvoke(grantee, "GET", `/v1/topics/${topic}`);
  }

  /** Consumer-group routes for one group (or all): join, heartbeat, leave, commit, describe, reset. */
  grantGroup(grantee: iam.IGrantable, group = "*"): void {
    this.grantRoutes(grantee, ["groups"], "*", group);
  }

  /** Every admin route: create, list, describe, alter and delete topics. */
  grantAdmin(grantee: iam.IGrantable): void {
    this.grantRoutes(grantee, ["admin"]);
  }

  /** Requests per period (API Gateway's `Count`). */
  metricRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi ? this.httpApi.metricCount(props) : (this.restApi as apigw.RestApi).metricCount(props);
  }

  /** 4xx answers, Seglog's own (`Invalid`, `NotFound`, …) and API Gateway's (403 unsigned). */
  metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi ? this.httpApi.metricClientError(props) : (this.restApi as apigw.RestApi).metricClientError(props);
  }

  metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi ? this.httpApi.metricServerError(props) : (this.restApi as apigw.RestApi).metricServerError(props);
  }

  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi ? this.httpApi.metricLatency(props) : (this.restApi as apigw.RestApi).metricLatency(props);
  }
}

function functionSizing(props: SeglogApiProps): Record<FunctionName, { memoryMb: number; timeoutSeconds: number }> {
  const d = FUNCTION_DEFAULTS;
  return {
    produce: { memoryMb: props.produceMemoryMb ?? d.produce.memoryMb, timeoutSeconds: props.produceTimeoutSeconds ?? d.produce.timeoutSeconds },
    fetch: { memoryMb: props.fetchMemoryMb ?? d.fetch.memoryMb, timeoutSeconds: props.fetchTimeoutSeconds ?? d.fetch.timeoutSeconds },
    admin: { memoryMb: props.adminMemoryMb ?? d.admin.memoryMb, timeoutSeconds: props.adminTimeoutSeconds ?? d.admin.timeoutSeconds },
    groups: { memoryMb: props.groupsMemoryMb ?? d.groups.memoryMb, timeoutSeconds: props.groupsTimeoutSeconds ?? d.groups.timeoutSeconds },
  };
}

/** Fails the synth early when the timeouts would break the produce protocol or the long poll. */
function validateTimeouts(sizing: Record<FunctionName, { memoryMb: number; timeoutSeconds: number }>, abortTimeoutMs: number): void {
  for (const [fn, { memoryMb, timeoutSeconds }] of Object.entries(sizing)) {
    if (!Number.isInteger(memoryMb) || memoryMb < 128 || memoryMb > 10_240) throw new Error(`${fn}MemoryMb must be 128..10240, not ${memoryMb}`);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > INTEGRATION_TIMEOUT_SECONDS) {
      throw new Error(`${fn}TimeoutSeconds must be 1..${INTEGRATION_TIMEOUT_SECONDS} (API Gateway's integration limit), not ${timeoutSeconds}`);
    }
  }
  if (!Number.isSafeInteger(abortTimeoutMs) || abortTimeoutMs < sizing.produce.timeoutSeconds * 1000 + ABORT_MARGIN_MS) {
    throw new Error(
      `abortTimeoutMs (${abortTimeoutMs}) must exceed the produce timeout (${sizing.produce.timeoutSeconds} s) by at least ${ABORT_MARGIN_MS} ms: ` +
        "a reader must never abort a reservation whose producer may still commit",
    );
  }
  const longestFetchSeconds = (DEFAULT_LOG_OPTIONS.maxWaitMsLimit + DEFAULT_LOG_OPTIONS.readBudgetMs) / 1000;
  if (sizing.fetch.timeoutSeconds <= longestFetchSeconds) {
    throw new Error(
      `fetchTimeoutSeconds (${sizing.fetch.timeoutSeconds}) must exceed the longest long poll plus the read budget (${longestFetchSeconds} s)`,
    );
  }
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${name} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`);
}

function httpMethod(method: string): apigwv2.HttpMethod {
  const m = Object.values(apigwv2.HttpMethod).find((v) => v === method);
  if (m === undefined) throw new Error(`Unsupported HTTP method ${method}`);
  return m;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
