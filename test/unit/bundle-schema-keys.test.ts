import { describe, expect, it } from "vitest";
import { inlineStringKeys } from "../../src/build/bundle.ts";

describe("inlineStringKeys (the bundler's rewrite of the AWS SDK's schema modules)", () => {
  it("writes a module's string constants into the computed keys that name them", () => {
    const source = [
      'const _h = "http";',
      'const _e = "error";',
      "const n0 = \"com.amazonaws.s3\";",
      'export var DeleteBucketCors$ = [9, n0, "DeleteBucketCors", { [_h]: ["DELETE", "/?cors", 204] }, () => Req$];',
      "export var Err$ = [-3, n0, \"AccessDenied\", { [_e]: _c, [other]: 1 }];",
    ].join("\n");
    const out = inlineStringKeys(source);
    expect(out).toContain('{ "http": ["DELETE", "/?cors", 204] }');
    // Constants defined elsewhere, or not strings, are left for the bundler to resolve.
    expect(out).toContain('{ "error": _c, [other]: 1 }');
    expect(out.split("\n").slice(0, 3)).toEqual(source.split("\n").slice(0, 3));
  });
});
