import { CfnOutput, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { SeglogApi, type ApiAuthorization, type ApiType, type SeglogApiProps } from "./api.ts";
import { SeglogMaintenance, type SeglogMaintenanceProps } from "./maintenance.ts";
import { SeglogObservability, type SeglogObservabilityProps } from "./observability.ts";
import { SeglogStorage } from "./storage.ts";

export interface SeglogStackProps extends StackProps {
  /** @default the context value `apiType`, else `http` (see `SeglogApiProps.apiType`) */
  readonly apiType?: ApiType;
  /** `none` is for development only. @default the context value `authorization`, else `iam` */
  readonly authorization?: ApiAuthorization;
  /** The bucket's and the table's. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** The API's sizing and settings (memory, timeouts, `fetchPollIntervalMs`, …; docs/deploy.md). */
  readonly api?: Omit<SeglogApiProps, "storage" | "apiType" | "authorization">;
  /** The maintenance function's (`intervalMinutes`, `memoryMb`, …); its abort timeout is the API's. */
  readonly maintenance?: Omit<SeglogMaintenanceProps, "api" | "storage" | "abortTimeoutMs">;
  /** Alarm thresholds and periods. */
  readonly observability?: Omit<SeglogObservabilityProps, "api" | "storage" | "maintenance">;
}

/** One Seglog deployment: storage, the API, scheduled maintenance, a dashboard and alarms. */
export class SeglogStack extends Stack {
  readonly storage: SeglogStorage;
  readonly api: SeglogApi;
  readonly maintenance: SeglogMaintenance;
  readonly observability: SeglogObservability;

  constructor(scope: Construct, id: string, props: SeglogStackProps = {}) {
    super(scope, id, props);
    this.storage = new SeglogStorage(this, "Storage", props.removalPolicy === undefined ? {} : { removalPolicy: props.removalPolicy });
    this.api = new SeglogApi(this, "Api", {
      ...props.api,
      storage: this.storage,
      ...(props.apiType === undefined ? {} : { apiType: props.apiType }),
      ...(props.authorization === undefined ? {} : { authorization: props.authorization }),
    });
    this.maintenance = new SeglogMaintenance(this, "Maintenance", { ...props.maintenance, api: this.api });
    this.observability = new SeglogObservability(this, "Observability", { ...props.observability, api: this.api, maintenance: this.maintenance });

    new CfnOutput(this, "ApiUrl", { value: this.api.url, description: "seglog --url (or SEGLOG_URL)" });
    new CfnOutput(this, "ApiId", { value: this.api.apiId, description: "LocalStack: http://localhost:4566/restapis/<ApiId>/prod/_user_request_" });
    new CfnOutput(this, "ApiType", { value: this.api.apiType });
    new CfnOutput(this, "BucketName", { value: this.storage.bucket.bucketName });
    new CfnOutput(this, "TableName", { value: this.storage.table.tableName });
    new CfnOutput(this, "MaintenanceFunctionName", { value: this.maintenance.function.functionName });
    new CfnOutput(this, "DashboardName", { value: this.observability.dashboard.dashboardName });
  }
}
