import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { BUNDLE_HANDLER, bundleFunctionsSync, type Bundle } from "../src/build/bundle.ts";

/**
 * The newest Node.js runtime this aws-cdk-lib knows. Named, not `NODEJS_LATEST`: that one moves
 * with the library, and a runtime change should show up in a diff of this file.
 */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface SeglogFunctionProps {
  /** The handler's file, `functions/<name>.ts`; deployed from `dist/functions/<name>/`. */
  readonly name: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
  /** @default one month */
  readonly logRetentionDays?: logs.RetentionDays;
}

/**
 * One Seglog Lambda function: the esbuild bundle, arm64 (about 20 % cheaper per GB-second than
 * x86 for the same work), its own log group with a retention, and its own role that may only
 * write to that log group until the storage construct grants it exactly what it needs. No
 * managed policy: `AWSLambdaBasicExecutionRole` would allow writing to every log group.
 */
export class SeglogFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SeglogFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetentionDays ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `Seglog ${props.name} function`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new lambda.Function(this, "Function", {
      description: props.description,
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(bundleOf(props.name).dir),
      handler: BUNDLE_HANDLER,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
    });
    // The role must be able to write logs before the function runs.
    this.function.node.addDependency(this.role);
  }
}

let bundles: ReadonlyMap<string, Bundle> | undefined;

/**
 * The bundle of one function, built on first use in this process: a synth always deploys
 * bundles built from the sources it sees, never a stale `dist/`.
 */
export function bundleOf(name: string): Bundle {
  bundles ??= new Map(bundleFunctionsSync().map((b) => [b.name, b]));
  const bundle = bundles.get(name);
  if (!bundle) throw new Error(`No Lambda handler functions/${name}.ts (have: ${[...bundles.keys()].join(", ")})`);
  return bundle;
}
