import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logContextFromEnv } from "../../../src/http/app.ts";
import { resolveClientSettings } from "../../../src/storage/clients.ts";
import { handlersFor, jsonOf, v2Event } from "../../helpers/log.ts";
import { testEnv } from "../../helpers/stack.ts";

// A DynamoDB endpoint that takes connections and never answers: a stalled socket.
const sockets: Socket[] = [];
const hole = createServer((socket) => void sockets.push(socket));
let endpoint = "";
beforeAll(async () => {
  await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(hole.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => hole.close(() => resolve()));
});

describe("SEGLOG_STORAGE_TIMEOUT_MS", () => {
  it("is read from the environment, and an explicit option wins", () => {
    expect(resolveClientSettings({ SEGLOG_STORAGE_TIMEOUT_MS: "3000" }).requestTimeoutMs).toBe(3000);
    expect(resolveClientSettings({ SEGLOG_STORAGE_TIMEOUT_MS: "3000" }, { requestTimeoutMs: 50 }).requestTimeoutMs).toBe(50);
    expect(resolveClientSettings({ SEGLOG_STORAGE_TIMEOUT_MS: "soon" }).requestTimeoutMs).toBeUndefined();
    expect(resolveClientSettings({}).requestTimeoutMs).toBeUndefined();
  });

  it("turns a storage request that never answers into a typed, retriable error after the SDK's attempts, not a request held until the function's timeout", async () => {
    const env = { ...testEnv(), AWS_ENDPOINT_URL_DYNAMODB: endpoint, SEGLOG_STORAGE_TIMEOUT_MS: "200", AWS_MAX_ATTEMPTS: "2" };
    const invoke = handlersFor(logContextFromEnv(env));
    const r = await invoke("produce", v2Event("POST", "/v1/topics/stalled/records", { body: JSON.stringify({ records: [{ value: "v" }] }) }));
    expect(r.statusCode).toBe(500);
    expect(jsonOf(r).error).toMatchObject({ kind: "Internal", retriable: true, message: expect.stringContaining("TimeoutError") });
    expect(sockets.length).toBeGreaterThanOrEqual(2); // both attempts reached the stalled endpoint
  }, 15_000);
});
