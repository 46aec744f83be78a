import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on `host` (the OS picks it). Only for servers we cannot
 * hand port 0 (DynamoDB Local): another process may take it before they bind, so callers retry.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error("no port assigned")) : resolve(port)));
    });
  });
}

/** `http://host:port`, with brackets around an IPv6 literal. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
