import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../src/build/bundle.ts";

const run = promisify(execFile);

/**
 * `cdk synth` (and `cdklocal synth`) as a user runs them from a fresh clone with no AWS account:
 * a copy of the sources without `dist/` or `cdk.out/`, no credentials, no AWS config, an empty
 * home directory, no notices, no telemetry, no npm update check. The three runs share one copy and
 * run in parallel to keep the suite fast.
 */
let clone: string;
let home: string;

beforeAll(() => {
  clone = mkdtempSync(join(tmpdir(), "seglog-clone-"));
  home = mkdtempSync(join(tmpdir(), "seglog-home-"));
  for (const entry of ["bin", "infra", "src", "functions", "cdk.json", "package.json", "tsconfig.json"]) {
    cpSync(join(REPO_ROOT, entry), join(clone, entry), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(clone, "node_modules"), "dir");
  mkdirSync(join(home, ".aws"));
});

afterAll(() => {
  rmSync(clone, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_") && !k.startsWith("CDK_")) env[k] = v;
  return {
    ...env,
    HOME: home,
    AWS_CONFIG_FILE: join(home, ".aws", "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, ".aws", "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    CDK_DISABLE_CLI_TELEMETRY: "true",
    npm_config_update_notifier: "false",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

async function synth(cli: "cdk" | "cdklocal", out: string, ...context: string[]) {
  const args = ["synth", "--no-notices", "--quiet", "--output", out, ...context.flatMap((c) => ["-c", c])];
  const { stdout, stderr } = await run(join(clone, "node_modules", ".bin", cli), args, { cwd: clone, env: cleanEnv(), timeout: 90_000 });
  const template = JSON.parse(readFileSync(join(clone, out, "Seglog.template.json"), "utf8")) as { Resources: Record<string, { Type: string }> };
  const types = new Set(Object.values(template.Resources).map((r) => r.Type));
  return { stdout, stderr, types };
}

describe("the CDK CLI synthesizes without AWS credentials", () => {
  // The REST flavour through `cdk` itself is the same app as through `cdklocal` (which only sets
  // endpoints), and template.test.ts synthesizes it in process: two synths, one per core.
  it("cdk synth (HTTP API), cdklocal synth -c apiType=rest", async () => {
    const [http, local] = await Promise.all([synth("cdk", "out-http"), synth("cdklocal", "out-local", "apiType=rest")]);
    for (const r of [http, local]) {
      for (const type of ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::Events::Rule", "AWS::CloudWatch::Dashboard"]) {
        expect(r.types).toContain(type);
      }
      // cdk-nag runs in bin/app.ts: a finding would have failed the synth and shown up here.
      expect(r.stderr).not.toMatch(/AwsSolutions-/);
    }
    expect(http.types).toContain("AWS::ApiGatewayV2::Api");
    expect(http.types).not.toContain("AWS::ApiGateway::RestApi");
    expect(local.types).toContain("AWS::ApiGateway::RestApi");
    // The synth built the bundles it deploys, in the fresh copy.
    for (const name of ["admin", "fetch", "produce", "maintenance"]) expect(existsSync(join(clone, "dist", "functions", name, "index.mjs"))).toBe(true);
  }, 90_000);
});
