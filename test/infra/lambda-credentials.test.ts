import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, bundleEntry, type Bundle } from "../../src/build/bundle.ts";

/**
 * The Lambda bundles carry only the environment link of the SDK's credential chain
 * (src/build/lambda-credentials.ts): what Lambda hands a function. A client built with nothing
 * configured, bundled as a function is, takes its credentials from there, and without them fails
 * at once, naming the variables, instead of trying profiles, SSO or instance metadata.
 */
type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
type Entry = { s3Credentials(): Promise<Credentials>; dynamoCredentials(): Promise<Credentials> };

const VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] as const;
const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
let outDir: string;
let bundle: Bundle;
let entry: Entry;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "seglog-credentials-"));
  bundle = await bundleEntry("credentials", join(REPO_ROOT, "test", "fixtures", "bundle", "credentials.ts"), outDir);
  entry = (await import(pathToFileURL(bundle.file).href)) as Entry;
}, 60_000);

afterAll(() => {
  for (const v of VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
  rmSync(outDir, { recursive: true, force: true });
});

describe("credentials in a Lambda bundle", () => {
  it("are Lambda's, from the environment, for both clients", async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDLAMBDA", AWS_SECRET_ACCESS_KEY: "secret", AWS_SESSION_TOKEN: "token" });
    const expected = { accessKeyId: "AKIDLAMBDA", secretAccessKey: "secret", sessionToken: "token" };
    expect(await entry.s3Credentials()).toMatchObject(expected);
    expect(await entry.dynamoCredentials()).toMatchObject(expected);
  });

  it("fail at once without them, naming the variables, and try no other source", async () => {
    for (const v of VARS) delete process.env[v];
    process.env["AWS_PROFILE"] = "somebody";
    const started = performance.now();
    await expect(entry.s3Credentials()).rejects.toThrow(/environment variable credentials/);
    // No instance-metadata round trip, which takes a second or more to give up off EC2.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("leave the rest of the SDK's chain out of the bundle", () => {
    const code = readdirSync(bundle.dir)
      .filter((f) => f.endsWith(".mjs"))
      .map((f) => readFileSync(join(bundle.dir, f), "utf8"))
      .join("\n");
    const others = ["sso_start_url", "credential_process", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"];
    expect(others.filter((marker) => code.includes(marker))).toEqual([]);
  });
});
