import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { ABORT_MARGIN_MS, API_ROUTES } from "../../infra/api.ts";
import { SeglogMaintenance } from "../../infra/maintenance.ts";
import { SeglogObservability } from "../../infra/observability.ts";
import { LOG_PREFIX } from "../../infra/storage.ts";
import { BUNDLE_FILE, BUNDLES_DIR } from "../../src/build/bundle.ts";
import { segmentObjectKey } from "../../src/core/keys.ts";
import { METRIC, METRICS_NAMESPACE } from "../../src/http/metrics.ts";
import { TABLE_DEFINITION } from "../../src/storage/table.ts";
import { asArray, logicalId, policyStatements, synthStack, type Synthesized } from "./synth.ts";

let http: Synthesized;
let rest: Synthesized;

beforeAll(() => {
  http = synthStack({ apiType: "http" });
  rest = synthStack({ context: { apiType: "rest" } });
}, 60_000);

const flavours = () =>
  [
    ["http", http],
    ["rest", rest],
  ] as const;

describe("API Gateway: one IAM-authorized route per entry of the route table", () => {
  it("HTTP API (default): a route for each method and path, each with AWS_IAM", () => {
    const routes = http.template.findResources("AWS::ApiGatewayV2::Route");
    const keys = Object.values(routes).map((r) => r.Properties.RouteKey as string);
    expect(keys.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of Object.values(routes)) expect(route.Properties.AuthorizationType).toBe("AWS_IAM");
    http.template.resourceCountIs("AWS::ApiGateway::RestApi", 0);
  });

  it("REST API (-c apiType=rest): a method for each route, each with AWS_IAM, binary bodies passed through", () => {
    const methods = Object.values(rest.template.findResources("AWS::ApiGateway::Method"));
    expect(methods).toHaveLength(API_ROUTES.length);
    for (const m of methods) expect(m.Properties.AuthorizationType).toBe("AWS_IAM");
    const resources = Object.values(rest.template.findResources("AWS::ApiGateway::Resource")).map((r) => r.Properties.PathPart as string);
    expect(new Set(resources)).toEqual(new Set(API_ROUTES.flatMap((r) => r.path.split("/").filter(Boolean))));
    rest.template.hasResourceProperties("AWS::ApiGateway::RestApi", { BinaryMediaTypes: ["application/octet-stream"] });
    rest.template.resourceCountIs("AWS::ApiGatewayV2::Api", 0);
    // No account-wide API Gateway CloudWatch role owned by this stack.
    rest.template.resourceCountIs("AWS::ApiGateway::Account", 0);
  });

  it("REST API: named for its stack, so that two stacks' dashboards and alarms (keyed by the API's name) do not share data", () => {
    const nameIn = (t: Synthesized) => Object.values(t.template.findResources("AWS::ApiGateway::RestApi"))[0]?.Properties.Name as string;
    const dev = synthStack({ context: { apiType: "rest" }, stackName: "SeglogDev" });
    expect(nameIn(rest)).not.toBe(nameIn(dev));
    expect(nameIn(rest)).not.toBe("RestApi");
    for (const t of [rest, dev]) {
      const alarm = Object.entries(t.template.findResources("AWS::CloudWatch::Alarm")).find(([id]) => id.startsWith("ObservabilityApiServerErrors"))?.[1];
      expect(alarm?.Properties).toMatchObject({ Namespace: "AWS/ApiGateway", MetricName: "5XXError", Dimensions: [{ Name: "ApiName", Value: nameIn(t) }] });
    }
  });

  it("routes carry the topic in the path, so a policy can name one topic", () => {
    const topicRoutes = API_ROUTES.filter((r) => r.path.startsWith("/v1/topics/"));
    expect(topicRoutes.length).toBeGreaterThan(0);
    for (const r of topicRoutes) expect(r.path.split("/")[3]).toBe("{topic}");
    expect(API_ROUTES).toContainEqual({ method: "POST", path: "/v1/topics/{topic}/records", fn: "produce" });
    expect(API_ROUTES).toContainEqual({ method: "GET", path: "/v1/topics/{topic}/partitions/{partition}/records", fn: "fetch" });
  });

  it.each(["http", "rest"] as const)("grantProduce(role, topic) allows POST /v1/topics/<topic>/records and describing <topic> only (%s)", (apiType) => {
    const { template } = synthStack({
      apiType,
      before: (stack) => {
        const role = new iam.Role(stack, "OrdersProducer", { assumedBy: new iam.AccountRootPrincipal() });
        stack.api.grantProduce(role, "orders");
      },
    });
    const invoke = policyStatements(template).filter(({ statement }) => asArray(statement.Action).includes("execute-api:Invoke"));
    const resources = invoke.flatMap(({ statement }) => asArray(statement.Resource)).map((r) => JSON.stringify(r));
    const produceRoutes = API_ROUTES.filter((r) => r.fn === "produce");
    expect(resources).toHaveLength(produceRoutes.length + 1);
    expect(resources.some((r) => r.includes('/*/POST/v1/topics/orders/records"'))).toBe(true);
    expect(resources.some((r) => r.includes('/*/GET/v1/topics/orders"'))).toBe(true);
    // Every topic-scoped path names the topic; nothing reaches another topic's routes.
    for (const r of resources) if (r.includes("/v1/topics")) expect(r).toMatch(/\/v1\/topics\/orders(\/|")/);
  });

  it("takes its parts' settings as the stack's props: the API's, maintenance's and the alarms'", () => {
    const { template } = synthStack({ parts: { api: { fetchPollIntervalMs: 25 }, maintenance: { memoryMb: 1024 }, observability: { produceLatencyP99ThresholdMs: 500 } } });
    const fns = template.findResources("AWS::Lambda::Function");
    const fn = (name: string) => Object.entries(fns).find(([id]) => id.startsWith(name))?.[1] as { Properties: { MemorySize: number; Environment: { Variables: Record<string, string> } } };
    expect(fn("ApiFetch").Properties.Environment.Variables["SEGLOG_POLL_INTERVAL_MS"]).toBe("25");
    expect(fn("Maintenance").Properties.MemorySize).toBe(1024);
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")) as { Properties: { AlarmDescription?: string; Threshold: number } }[];
    expect(alarms.find((a) => /produce.*p99/i.test(a.Properties.AlarmDescription ?? ""))?.Properties.Threshold).toBe(500);
  });

  it("grantGroup(role, group) allows the group routes of that group only", () => {
    const { template } = synthStack({
      before: (stack) => stack.api.grantGroup(new iam.Role(stack, "Billing", { assumedBy: new iam.AccountRootPrincipal() }), "billing"),
    });
    const resources = policyStatements(template)
      .filter(({ statement }) => asArray(statement.Action).includes("execute-api:Invoke"))
      .flatMap(({ statement }) => asArray(statement.Resource))
      .map((r) => JSON.stringify(r));
    const groupRoutes = API_ROUTES.filter((r) => r.fn === "groups");
    expect(resources).toHaveLength(groupRoutes.length);
    for (const r of resources) {
      expect(r).not.toMatch(/[{}]group|\{[a-z]+\}/i);
      if (r.includes("/v1/groups/")) expect(r).toMatch(/\/v1\/groups\/billing(\/|")/);
    }
  });

  it("a grant for an invalid topic name fails at synth time", () => {
    expect(() =>
      synthStack({
        before: (stack) => stack.api.grantProduce(new iam.Role(stack, "R", { assumedBy: new iam.AccountRootPrincipal() }), "no/such topic"),
      }),
    ).toThrow();
  });

  it("authorization=none (development only) opens every route and says so", () => {
    const open = synthStack({ context: { authorization: "none" } });
    for (const route of Object.values(open.template.findResources("AWS::ApiGatewayV2::Route"))) {
      expect(route.Properties.AuthorizationType).toBe("NONE");
    }
    Annotations.fromStack(open.stack).hasWarning("*", Match.stringLikeRegexp("authorization=none"));
  });

  it("rejects unknown context values early", () => {
    expect(() => synthStack({ context: { apiType: "websocket" } })).toThrow(/apiType must be one of http, rest/);
    expect(() => synthStack({ context: { authorization: "cognito" } })).toThrow(/authorization must be one of iam, none/);
  });
});

describe("least privilege", () => {
  const tableAndBucket = (t: Synthesized) => [logicalId(t.template, "AWS::DynamoDB::Table", "StorageTable"), logicalId(t.template, "AWS::S3::Bucket", "StorageBucket")];

  it.each(["http", "rest"] as const)("no wildcard actions anywhere, and none on the table or bucket (%s)", (flavour) => {
    const t = flavour === "http" ? http : rest;
    const [table, bucket] = tableAndBucket(t);
    for (const { statement } of policyStatements(t.template)) {
      for (const action of asArray(statement.Action as string | string[])) expect(action).not.toMatch(/\*/);
      const text = JSON.stringify(statement.Resource);
      if (text.includes(table as string) || text.includes(bucket as string)) expect(statement.Effect).toBe("Allow");
    }
  });

  const statementsOf = (t: Synthesized, prefix: string) => {
    const policy = logicalId(t.template, "AWS::IAM::Policy", prefix);
    return policyStatements(t.template).filter((s) => s.policy === policy).map((s) => s.statement);
  };
  const actionsOn = (statements: Record<string, any>[], id: string) =>
    statements.filter((s) => JSON.stringify(s.Resource).includes(id)).flatMap((s) => asArray(s.Action as string | string[])).sort();

  it("produce: PutObject under log/ and writes to the table, nothing more", () => {
    const [table, bucket] = tableAndBucket(http);
    const produce = statementsOf(http, "ApiProduceRole");
    expect(actionsOn(produce, bucket as string)).toEqual(["s3:PutObject"]);
    const objectResources = produce.filter((s) => JSON.stringify(s.Resource).includes(bucket as string)).map((s) => s.Resource);
    expect(objectResources).toEqual([{ "Fn::Join": ["", [{ "Fn::GetAtt": [bucket, "Arn"] }, `/${LOG_PREFIX}*`]] }]);
    expect(actionsOn(produce, table as string)).toEqual(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
    const everything = produce.flatMap((s) => asArray(s.Action as string | string[])).sort();
    expect(everything).toEqual(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject"]);
  });

  it("fetch and groups read objects; admin never touches objects; only maintenance (which merges) writes besides produce, or deletes", () => {
    const [, bucket] = tableAndBucket(http);
    expect(actionsOn(statementsOf(http, "ApiFetchRole"), bucket as string)).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(actionsOn(statementsOf(http, "ApiGroupsRole"), bucket as string)).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(actionsOn(statementsOf(http, "ApiAdminRole"), bucket as string)).toEqual([]);
    expect(actionsOn(statementsOf(http, "MaintenanceRole"), bucket as string)).toEqual(["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    // Readers list the bucket itself, so that S3 answers a missing segment 404, not 403 (AWS's
    // GetObject documentation): a consumer refetches after a 404 and gives up on a 403.
    for (const role of ["ApiFetchRole", "ApiGroupsRole", "MaintenanceRole"]) {
      const list = statementsOf(http, role).find((s) => asArray(s.Action).includes("s3:ListBucket"));
      expect(list?.Resource).toEqual({ "Fn::GetAtt": [bucket, "Arn"] });
      expect(list?.Condition).toBeUndefined();
    }
  });

  it("the object prefix granted is where the log writes segments", () => {
    expect(segmentObjectKey("orders", "abc", 3, 42).startsWith(LOG_PREFIX)).toBe(true);
  });

  it("functions use their own roles with no managed policies", () => {
    for (const role of Object.values(http.template.findResources("AWS::IAM::Role"))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("storage", () => {
  it("bucket: no public access, SSE, TLS 1.2+ only, no versioning, lifecycle for unfinished uploads, retained", () => {
    const t = http.template;
    t.hasResource("AWS::S3::Bucket", {
      DeletionPolicy: "Retain",
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
        LifecycleConfiguration: { Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: "Enabled" })] },
        VersioningConfiguration: Match.absent(),
      },
    });
    t.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          Match.objectLike({ Effect: "Deny", Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } } }),
        ]),
      },
    });
  });

  it("table: the shared definition's keys, LSI and TTL; on demand, PITR, encrypted, retained", () => {
    const def = TABLE_DEFINITION;
    http.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: {
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: "HASH" },
          { AttributeName: def.sortKey.name, KeyType: "RANGE" },
        ],
        LocalSecondaryIndexes: def.localSecondaryIndexes.map((i) => ({
          IndexName: i.indexName,
          KeySchema: [
            { AttributeName: def.partitionKey.name, KeyType: "HASH" },
            { AttributeName: i.sortKey.name, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: i.projection },
        })),
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it("removalPolicy DESTROY reaches the bucket and the table", () => {
    const { template } = synthStack({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Delete" });
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
  });
});

describe("functions", () => {
  it("arm64, the newest Node runtime, the env the handlers read; produce times out well before readers abort", () => {
    const fns = Object.entries(http.template.findResources("AWS::Lambda::Function"));
    const expected = [...new Set(API_ROUTES.map((r) => `Api${capitalize(r.fn)}`)), "Maintenance"].sort();
    expect(fns.map(([id]) => id.replace(/Function.*$/, "")).sort()).toEqual(expected);
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({ Runtime: "nodejs24.x", Architectures: ["arm64"], Handler: "index.handler" });
      expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(expect.arrayContaining(["SEGLOG_BUCKET", "SEGLOG_TABLE", "SEGLOG_ABORT_TIMEOUT_MS"]));
      // A stalled storage socket is given up well within the function's timeout.
      expect(Number(fn.Properties.Environment.Variables.SEGLOG_STORAGE_TIMEOUT_MS) * 3).toBeLessThan(fn.Properties.Timeout * 1000);
    }
    const produce = fns.find(([id]) => id.startsWith("ApiProduce"))?.[1].Properties;
    const abortMs = Number(produce.Environment.Variables.SEGLOG_ABORT_TIMEOUT_MS);
    expect(produce.Timeout * 1000 + ABORT_MARGIN_MS).toBeLessThanOrEqual(abortMs);
    expect(produce.Timeout).toBe(10);
    const fetch = fns.find(([id]) => id.startsWith("ApiFetch"))?.[1].Properties;
    expect(fetch.Timeout).toBeGreaterThan(25); // the longest long poll (20 s) plus the read budget (5 s)
    expect(fetch.Timeout).toBeLessThan(29);
  });

  it("a produce timeout too close to the abort timeout fails the synth", async () => {
    const { App, Stack } = await import("aws-cdk-lib");
    const { SeglogApi } = await import("../../infra/api.ts");
    expect(() => new SeglogApi(new Stack(new App(), "S"), "Api", { produceTimeoutSeconds: 25, abortTimeoutMs: 30_000 })).toThrow(/abortTimeoutMs/);
    // Maintenance built beside an API aborts stalled reservations on the API's timeout, not its own default.
    const own = new Stack(new App(), "Own");
    const api = new SeglogApi(own, "Api", { produceTimeoutSeconds: 25, abortTimeoutMs: 40_000 });
    const maintenance = new SeglogMaintenance(own, "Maintenance", { api });
    expect(maintenance.storage).toBe(api.storage);
    const env = Template.fromStack(own).findResources("AWS::Lambda::Function", { Properties: { Description: Match.stringLikeRegexp("^Seglog maintenance") } });
    expect(Object.values(env).map((f) => f.Properties.Environment.Variables.SEGLOG_ABORT_TIMEOUT_MS)).toEqual(["40000"]);
    expect(() => new SeglogMaintenance(own, "Other", { api, abortTimeoutMs: 30_000 })).toThrow("abortTimeoutMs (30000) must be the API's (40000)");
    expect(() => new SeglogApi(new Stack(new App(), "S"), "Api", { fetchTimeoutSeconds: 25 })).toThrow(/long poll plus the read budget/);
  });

  it("passes fetchPollIntervalMs to the fetch function as SEGLOG_POLL_INTERVAL_MS, and refuses one the engine would", async () => {
    const { App, Stack } = await import("aws-cdk-lib");
    const { Template } = await import("aws-cdk-lib/assertions");
    const { SeglogApi } = await import("../../infra/api.ts");
    const stack = new Stack(new App(), "S");
    new SeglogApi(stack, "Api", { fetchPollIntervalMs: 25 });
    const fns = Object.entries(Template.fromStack(stack).findResources("AWS::Lambda::Function"));
    const fetch = fns.find(([id]) => id.startsWith("ApiFetch"))?.[1].Properties;
    expect(fetch.Environment.Variables.SEGLOG_POLL_INTERVAL_MS).toBe("25");
    // Only a fetch waits in a long poll.
    for (const [id, fn] of fns) if (!id.startsWith("ApiFetch")) expect(fn.Properties.Environment.Variables.SEGLOG_POLL_INTERVAL_MS).toBeUndefined();
    // Without the prop the engine's default applies, and nothing is set.
    for (const fn of Object.values(http.template.findResources("AWS::Lambda::Function"))) {
      expect(fn.Properties.Environment.Variables.SEGLOG_POLL_INTERVAL_MS).toBeUndefined();
    }
    for (const bad of [0, 2.5, 20_001]) {
      expect(() => new SeglogApi(new Stack(new App(), "S"), "Api", { fetchPollIntervalMs: bad })).toThrow(/^fetchPollIntervalMs: /);
    }
  });

  it("deploys exactly the bundles in dist/functions (the files the bundle tests invoke)", () => {
    const assets = JSON.parse(readFileSync(join(http.outdir, "Seglog.assets.json"), "utf8")) as { files: Record<string, { source: { path: string } }> };
    for (const [id, fn] of Object.entries(http.template.findResources("AWS::Lambda::Function"))) {
      const name = id.replace(/^Api/, "").replace(/Function.*$/, "").toLowerCase();
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, "");
      const staged = assets.files[hash]?.source.path;
      expect(staged, `asset for ${name}`).toBeDefined();
      const deployed = readFileSync(join(http.outdir, staged as string, BUNDLE_FILE));
      expect(deployed.equals(readFileSync(join(BUNDLES_DIR, name, BUNDLE_FILE))), name).toBe(true);
    }
  });
});

describe("maintenance and observability", () => {
  it("an EventBridge rule runs the maintenance function every 5 minutes, not retried by either, and tells it to sweep every 60", () => {
    const fn = logicalId(http.template, "AWS::Lambda::Function", "MaintenanceFunction");
    http.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [fn, "Arn"] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    // Lambda retries an asynchronous invocation twice unless its event invoke config says otherwise.
    http.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { FunctionName: { Ref: fn }, MaximumRetryAttempts: 0 });
    http.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ SEGLOG_MAINTENANCE_INTERVAL_MINUTES: "5", SEGLOG_SWEEP_INTERVAL_MINUTES: "60" }) },
    });
  });

  it("alarms: errors and throttles per function, produce p99 latency, DynamoDB throttles, API 5xx, maintenance failing or not keeping up", () => {
    const alarms = Object.entries(http.template.findResources("AWS::CloudWatch::Alarm"));
    const ids = alarms.map(([id]) => id.replace(/^Observability/, "").replace(/[0-9A-F]{8}$/, "")).sort();
    const perFunction = [...new Set([...API_ROUTES.map((r) => capitalize(r.fn)), "Maintenance"])].flatMap((f) => [`${f}Errors`, `${f}Throttles`]);
    expect(ids).toEqual([...perFunction, "ProduceLatencyP99", "TableThrottles", "ApiServerErrors", "MaintenanceFailures", "MaintenanceIncomplete", "MaintenanceSweepIncomplete"].sort());
    // A maintenance step's failure does not fail the run (the next run retries it): its EMF
    // metric, not Lambda's Errors, shows one that keeps failing.
    for (const metric of [METRIC.maintenanceFailures, METRIC.maintenanceIncomplete]) {
      http.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: METRICS_NAMESPACE,
        MetricName: metric,
        Dimensions: [{ Name: "FunctionName", Value: { Ref: Match.stringLikeRegexp("^MaintenanceFunction") } }],
        Statistic: "Sum",
        Period: 300, // the default 5-minute schedule: a run per period
        Threshold: 1,
        EvaluationPeriods: 4,
        DatapointsToAlarm: 3,
      });
    }
    // Sweeps, one run an hour, each period one sweep: two in a row that ran out of time.
    http.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.maintenanceSweepIncomplete,
      Statistic: "Sum",
      Period: 3600,
      Threshold: 1,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
    });
    http.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.produceLatency,
      ExtendedStatistic: "p99",
      Threshold: 1000,
      EvaluationPeriods: 3,
    });
    const tableAlarm = alarms.find(([id]) => id.startsWith("ObservabilityTableThrottles"))?.[1];
    const names = (tableAlarm?.Properties.Metrics as { MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[])
      .flatMap((m) => (m.MetricStat ? [`${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`] : []))
      .sort();
    expect(names).toEqual(["AWS/DynamoDB/ReadThrottleEvents", "AWS/DynamoDB/WriteThrottleEvents"]);
    for (const [, alarm] of alarms) expect(alarm.Properties.TreatMissingData).toBe("notBreaching");
    http.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("maintenance alarms span a run each: with runs every 15 minutes, 15-minute periods, so that they can fire at all", () => {
    const stack = new Stack(new App(), "Runs15");
    const maintenance = new SeglogMaintenance(stack, "Maintenance", { intervalMinutes: 15 });
    new SeglogObservability(stack, "Observability", { maintenance });
    const alarms = Object.values(Template.fromStack(stack).findResources("AWS::CloudWatch::Alarm")).filter((a) => String(a.Properties.MetricName).startsWith("Maintenance"));
    expect(alarms.map((a) => [a.Properties.MetricName, a.Properties.Period, a.Properties.DatapointsToAlarm]).sort()).toEqual([
      [METRIC.maintenanceFailures, 900, 3],
      [METRIC.maintenanceIncomplete, 900, 3],
      [METRIC.maintenanceSweepIncomplete, 3600, 2],
    ]);
    // A weekly sweep: two periods of at most 3.5 days, the 7 days CloudWatch evaluates at most.
    const weekly = new Stack(new App(), "WeeklySweeps");
    new SeglogObservability(weekly, "Observability", { maintenance: new SeglogMaintenance(weekly, "Maintenance", { sweepIntervalMinutes: 7 * 24 * 60 }) });
    const sweepAlarm = Object.values(Template.fromStack(weekly).findResources("AWS::CloudWatch::Alarm")).find((a) => a.Properties.MetricName === METRIC.maintenanceSweepIncomplete);
    expect(sweepAlarm?.Properties.Period * sweepAlarm?.Properties.EvaluationPeriods).toBeLessThanOrEqual(7 * 24 * 3600);
  });
});

describe("cdk-nag AwsSolutions", () => {
  it.each(["http", "rest"] as const)("reports no unacknowledged finding (%s)", (flavour) => {
    const { app } = flavour === "http" ? http : rest;
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`)).toEqual([]);
  });

  it("every acknowledgement carries a written reason", () => {
    for (const [, t] of flavours()) {
      const reasons: [string, string][] = [];
      const walk = (c: IConstruct) => {
        for (const entry of c.node.metadata) {
          if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) reasons.push(...(Object.entries(entry.data as Record<string, string>) as [string, string][]));
        }
        c.node.children.forEach(walk);
      };
      walk(t.app);
      expect(reasons.length).toBeGreaterThan(0);
      for (const [id, reason] of reasons) expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
