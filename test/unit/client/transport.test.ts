import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SeglogHttp } from "../../../src/client/http.ts";
import { nodeTransport } from "../../../src/client/transport.ts";

/** Answers by path: each test's server side. */
const answers = new Map<string, (req: IncomingMessage, res: ServerResponse, body: Buffer) => void>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => answers.get(req.url ?? "")?.(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const send = (path: string, init: { method?: string; body?: Uint8Array | string; signal?: AbortSignal } = {}) =>
  nodeTransport({ method: init.method ?? "GET", url: new URL(base + path), headers: { accept: "application/json" }, ...init });

describe("the clients' transport (Node http)", () => {
  it("sends the body with its length and returns the answer's status, headers and whole body", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab); // many chunks
    answers.set("/echo", (req, res, body) => {
      res.writeHead(201, { "x-length": req.headers["content-length"] ?? "none", "content-type": "application/octet-stream" });
      res.end(body);
    });
    const res = await send("/echo", { method: "POST", body: big });
    expect(res.status).toBe(201);
    expect(res.header("x-length")).toBe(String(big.length));
    expect(res.header("content-type")).toBe("application/octet-stream");
    expect(res.header("no-such-header")).toBeUndefined();
    expect(res.body).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(res.body).equals(big)).toBe(true);
  });

  it("reads an answer without a content-length (chunked) whole", async () => {
    answers.set("/chunked", (_req, res) => {
      res.writeHead(200);
      res.write("one,");
      setTimeout(() => res.end("two"), 20);
    });
    const res = await send("/chunked");
    expect(res.header("transfer-encoding")).toBe("chunked");
    expect(Buffer.from(res.body).toString()).toBe("one,two");
  });

  it("fails an answer cut off before its end as a dropped connection (ECONNRESET), not a short body", async () => {
    answers.set("/cut", (_req, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write(Buffer.alloc(400));
      setTimeout(() => res.destroy(), 20);
    });
    await expect(send("/cut")).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("rejects at once when its signal aborts, and with Node's code when nothing listens", async () => {
    answers.set("/silent", () => {}); // never answers
    const controller = new AbortController();
    const pending = send("/silent", { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await expect(nodeTransport({ method: "GET", url: new URL("http://127.0.0.1:9/"), headers: {} })).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("SeglogHttp's request timeout", () => {
  it("gives up a call not answered within timeoutMs (retriable RequestTimeout), and one longer than Node's timers allow waits for its answer", async () => {
    answers.set("/slow", (_req, res) => setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'), 100));
    const http = new SeglogHttp({ url: base, signer: false });
    await expect(http.call({ method: "GET", path: "/slow", timeoutMs: 20 })).rejects.toMatchObject({ code: "RequestTimeout", retriable: true, message: expect.stringContaining("within 20 ms") });
    // (Node fires a timer of more than 2^31 − 1 ms at once.)
    expect((await http.call({ method: "GET", path: "/slow", timeoutMs: Number.MAX_SAFE_INTEGER })).json).toEqual({ ok: true });
    // The caller's own abort is its own, not a timeout.
    const caller = new AbortController();
    const aborted = http.call({ method: "GET", path: "/slow", timeoutMs: 5_000, signal: caller.signal });
    caller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
  });
});
