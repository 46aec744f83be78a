import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SeglogHttp } from "../../src/client/http.ts";
import { executeApiRegion, signerForUrl, sigV4Signer } from "../../src/client/sigv4.ts";

/** The AWS SigV4 test suite's credentials and time (`get-vanilla`, `post-vanilla`). */
const SUITE = {
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  signingDate: new Date("2015-08-30T12:36:00Z"),
  region: "us-east-1",
  service: "service",
};

describe("SigV4 signer", () => {
  it("matches the AWS test suite's get-vanilla vector", async () => {
    const signer = sigV4Signer(SUITE);
    const headers = await signer.sign({ method: "GET", url: new URL("https://example.amazonaws.com/"), headers: {} });
    expect(headers).toEqual({
      "x-amz-date": "20150830T123600Z",
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, " +
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    });
  });

  it("matches the AWS test suite's post-vanilla vector", async () => {
    const signer = sigV4Signer(SUITE);
    const headers = await signer.sign({ method: "POST", url: new URL("https://example.amazonaws.com/"), headers: {} });
    expect(headers["authorization"]).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, " +
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
  });

  it("signs for execute-api in the API's region, with the session token of temporary credentials", async () => {
    const signer = sigV4Signer({
      region: "eu-west-1",
      credentials: async () => ({ ...SUITE.credentials, sessionToken: "TOKEN" }),
      signingDate: SUITE.signingDate,
    });
    const url = new URL("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/topics/orders/records?x=1");
    const headers = await signer.sign({ method: "POST", url, headers: { "content-type": "application/json" }, body: '{"records":[]}' });
    expect(headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20150830\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    expect(headers["x-amz-security-token"]).toBe("TOKEN");
    expect(headers["host"]).toBeUndefined();
  });

  it("knows AWS API endpoints from everything else", () => {
    expect(executeApiRegion("https://abc123.execute-api.eu-west-1.amazonaws.com")).toBe("eu-west-1");
    expect(executeApiRegion("https://abc123.execute-api.us-east-1.amazonaws.com/prod")).toBe("us-east-1");
    expect(executeApiRegion("https://abc123.execute-api.cn-north-1.amazonaws.com.cn/prod")).toBe("cn-north-1");
    expect(executeApiRegion("https://vpce-0abc-x1y2.execute-api.ap-south-1.vpce.amazonaws.com/prod")).toBe("ap-south-1");
    expect(executeApiRegion("http://127.0.0.1:8092")).toBeUndefined();
    expect(executeApiRegion("https://abc123.execute-api.localhost.localstack.cloud:4566/prod")).toBeUndefined();
    expect(executeApiRegion("https://execute-api.eu-west-1.amazonaws.com.evil.example")).toBeUndefined();
    expect(signerForUrl("http://127.0.0.1:8092", {})).toBeUndefined();
    expect(signerForUrl("https://abc.execute-api.eu-west-1.amazonaws.com", {})).toBeDefined();
    expect(signerForUrl("https://abc.execute-api.eu-west-1.amazonaws.com", { SEGLOG_SIGV4: "false" })).toBeUndefined();
    expect(signerForUrl("https://seglog.example.com", { SEGLOG_SIGV4: "true", AWS_REGION: "eu-central-1" })).toBeDefined();
  });
});

describe("the client signs only when it should", () => {
  let seen: IncomingHttpHeaders[] = [];
  let url: string;
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ topics: [] }));
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("no signature for a local URL (seglog dev, LocalStack)", async () => {
    seen = [];
    await new SeglogHttp({ url }).get("/v1/topics");
    expect(seen[0]?.["authorization"]).toBeUndefined();
    expect(seen[0]?.["x-amz-date"]).toBeUndefined();
  });

  it("a signer (as for an AWS URL) adds the SigV4 headers to every request, JSON bodies included", async () => {
    seen = [];
    const http = new SeglogHttp({ url, signer: sigV4Signer({ region: "eu-west-1", credentials: SUITE.credentials }) });
    await http.get("/v1/topics");
    await http.call({ method: "POST", path: "/v1/topics", json: { name: "t" } });
    expect(seen).toHaveLength(2);
    for (const h of seen) {
      expect(h["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /);
      expect(h["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
    }
  });

  it("an AWS API URL gets the default signer; SEGLOG_SIGV4=false turns it off", () => {
    const aws = "https://abc123.execute-api.eu-west-1.amazonaws.com";
    expect((new SeglogHttp({ url: aws }) as unknown as { signer?: unknown }).signer).toBeDefined();
    expect((new SeglogHttp({ url: aws, signer: false }) as unknown as { signer?: unknown }).signer).toBeUndefined();
    expect((new SeglogHttp({ url }) as unknown as { signer?: unknown }).signer).toBeUndefined();
  });
});
