import type { TestProject } from "vitest/node";
import { startLocalStack, type DynamoEngine } from "../../src/local/stack.ts";

/**
 * One local stack per test run (DESIGN §8). Test files reach it through `test/helpers/stack.ts`;
 * cases isolate themselves with unique topic and group names, not separate stacks.
 *
 * `SEGLOG_TEST_DYNAMO=auto|dynamodb-local|dynalite` picks the DynamoDB engine (default auto:
 * DynamoDB Local when Java 17+ is present).
 */

export interface ProvidedStack {
  engine: DynamoEngine;
  env: Record<string, string>;
}

declare module "vitest" {
  export interface ProvidedContext {
    seglogStack: ProvidedStack;
  }
}

const ENGINES = ["auto", "dynamodb-local", "dynalite"] as const;
type EngineChoice = (typeof ENGINES)[number];

function engineFromEnv(value: string | undefined): EngineChoice {
  if (value === undefined || value === "") return "auto";
  const choice = ENGINES.find((engine) => engine === value);
  if (choice === undefined) throw new Error(`SEGLOG_TEST_DYNAMO must be one of ${ENGINES.join(", ")}, not ${value}`);
  return choice;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startLocalStack({
    dynamo: engineFromEnv(process.env.SEGLOG_TEST_DYNAMO),
    log: (line) => console.log(`[local stack] ${line}`),
  });
  project.provide("seglogStack", { engine: stack.engine, env: stack.env });
  return () => stack.stop();
}
