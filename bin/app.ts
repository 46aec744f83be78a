/**
 * The CDK app (`cdk.json` runs it with tsx). Context values (`-c key=value`):
 * - `apiType=http|rest` (default http; LocalStack's free edition needs rest)
 * - `authorization=iam|none` (default iam; none is for development only)
 * - `removalPolicy=retain|destroy` (default retain: the bucket and table outlive the stack)
 * - `stackName=…` (default Seglog; several deployments side by side in one account)
 * cdk-nag's AwsSolutions checks run on every synth: a new finding fails it.
 *
 * The stack is environment-agnostic (no account or region), so `cdk synth` needs no credentials;
 * `cdk deploy` takes both from the AWS CLI profile or environment.
 */
import { App, RemovalPolicy, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { SeglogStack } from "../infra/stack.ts";

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined ? undefined : String(value);
};

const removal = context("removalPolicy") ?? "retain";
if (removal !== "retain" && removal !== "destroy") throw new Error(`removalPolicy must be retain or destroy, not ${removal}`);

new SeglogStack(app, context("stackName") ?? "Seglog", {
  description: "Seglog: a serverless, Kafka-style message log (S3, DynamoDB, Lambda, API Gateway)",
  removalPolicy: removal === "destroy" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
