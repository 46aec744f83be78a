import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type RemovalPolicy } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { SeglogStack, type SeglogStackProps } from "../../infra/stack.ts";
import type { ApiAuthorization, ApiType } from "../../infra/api.ts";

export interface Synthesized {
  readonly app: App;
  readonly stack: SeglogStack;
  readonly template: Template;
  /** The cloud assembly directory (templates, staged assets). */
  readonly outdir: string;
}

export interface SynthOptions {
  readonly apiType?: ApiType;
  readonly authorization?: ApiAuthorization;
  readonly removalPolicy?: RemovalPolicy;
  /** Context values, as `-c key=value` would set them. */
  readonly context?: Record<string, string>;
  /** The stack's name, as `-c stackName=…` sets it. @default "Seglog" */
  readonly stackName?: string;
  /** The stack's props for its parts (`SeglogStackProps`). */
  readonly parts?: Pick<SeglogStackProps, "api" | "maintenance" | "observability">;
  /** Runs before synthesis, e.g. to add grants. */
  readonly before?: (stack: SeglogStack) => void;
}

/** Synthesizes the Seglog stack in this process, the way `cdk synth` does (with the repo's cdk.json flags). */
export function synthStack(options: SynthOptions = {}): Synthesized {
  const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as { context: Record<string, unknown> };
  const outdir = mkdtempSync(join(tmpdir(), "seglog-synth-"));
  const app = new App({ outdir, context: { ...cdkJson.context, ...options.context } });
  const stack = new SeglogStack(app, options.stackName ?? "Seglog", {
    ...(options.apiType === undefined ? {} : { apiType: options.apiType }),
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
    ...(options.removalPolicy === undefined ? {} : { removalPolicy: options.removalPolicy }),
    ...options.parts,
  });
  options.before?.(stack);
  app.synth();
  return { app, stack, template: Template.fromStack(stack), outdir };
}

type Json = Record<string, any>;

/** Every IAM policy statement in the template, with the policy's logical id. */
export function policyStatements(template: Template): { policy: string; statement: Json }[] {
  const out: { policy: string; statement: Json }[] = [];
  for (const [id, resource] of Object.entries(template.findResources("AWS::IAM::Policy"))) {
    for (const statement of (resource as Json).Properties.PolicyDocument.Statement as Json[]) out.push({ policy: id, statement });
  }
  return out;
}

export const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The logical id of the only resource of a type whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`Expected one ${type} named ${prefix}*, found ${ids.join(", ") || "none"}`);
  return ids[0] as string;
}
