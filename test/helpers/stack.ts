import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createClients, type ClientOptions, type SeglogClients } from "../../src/storage/clients.ts";
import type { DynamoEngine } from "../../src/local/stack.ts";
import type {} from "../setup/local-stack.ts";

/** The variables a process needs to use the run's local stack: endpoints, region, dummy
 * credentials, `SEGLOG_BUCKET`, `SEGLOG_TABLE`. Pass them to child processes as they are. */
export function testEnv(): Record<string, string> {
  return { ...inject("seglogStack").env };
}

/** Which DynamoDB emulator the run uses, for the few tests that depend on it. */
export function testEngine(): DynamoEngine {
  return inject("seglogStack").engine;
}

/** SDK clients for the run's stack, built the way production builds them. The caller destroys them. */
export function testClients(options: ClientOptions = {}): SeglogClients {
  return createClients(testEnv(), options);
}

/** `prefix-<random>`: a topic, group or key no other case (or earlier run on a kept stack) uses.
 * Only characters valid in topic names. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}
