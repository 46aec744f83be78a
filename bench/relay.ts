/**
 * Bare storage behind one HTTP hop: a server in the bench process, as the local API is, that
 * stores each body it is POSTed as the bare worker stores its objects (`bare-chain.ts`), with no
 * check, no records and no Lambda event. It is the least any design pays that sends a batch's
 * bytes through a function on their way to S3, as Seglog's produce does (the producer POSTs to
 * API Gateway, the function PUTs to S3), where bare storage sends them straight to S3.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClients } from "../src/storage/clients.ts";
import { storeLikeABatch, type BareStorage } from "./bare-chain.ts";

export interface Relay {
  /** POST a body to `${url}/<worker>`; the answer is `{"key": …}`. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startRelay(env: Record<string, string>, storage: BareStorage): Promise<Relay> {
  const clients = createClients(env);
  const run = randomBytes(4).toString("hex");
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const worker = Number(req.url?.slice(1) ?? 0);
      storeLikeABatch(clients, storage, run, worker, Buffer.concat(chunks)).then(
        (key) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ key })),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clients.s3.destroy();
      clients.dynamo.destroy();
    },
  };
}
