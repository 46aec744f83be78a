/**
 * Request building shared by the fuzz tests: names that point at a route's fixtures (resolved
 * when the case runs, as fixtures may be replaced), valid unknown names, invalid ones, and how
 * each goes into the path; the envelope every request carries (REST or HTTP API event, a stray
 * trailing slash, any content type); and JSON bodies that are the route's fields, or not.
 */
import fc from "fast-check";
import { anyJson, badName, brokenJsonText, extraKeys, jsonText, oversizedText, segment } from "./arbitraries.ts";
import type { FuzzRequest } from "./harness.ts";

/** A name from the route's fixtures (by index), a valid unknown one, or an invalid one; and how it goes into the path. */
export type NameRef = { readonly pool: number; readonly how: number } | { readonly name: string; readonly how: number };

export const unknownName = fc.stringMatching(/^[a-zA-Z0-9._-]{1,30}$/).map((s) => `nx-${s}`);

/**
 * A fixture's name, a valid unknown one or an invalid one, weighted by `pool`, `unknown` and
 * `bad`. `unknown: 0` where a valid name would create something (only the fixtures' names may).
 */
export function nameRef(poolSize: number, { pool = 7, unknown = 1, bad = 2 } = {}): fc.Arbitrary<NameRef> {
  return fc.oneof(
    { weight: pool, arbitrary: fc.record({ pool: fc.nat({ max: poolSize - 1 }), how: fc.nat({ max: 19 }) }) },
    { weight: unknown, arbitrary: fc.record({ name: unknownName, how: fc.nat({ max: 19 }) }) },
    { weight: bad, arbitrary: fc.record({ name: badName, how: fc.nat({ max: 19 }) }) },
  );
}

export const nameOf = (ref: NameRef, pool: readonly string[]) => ("pool" in ref ? (pool[ref.pool % pool.length] as string) : ref.name);
export const pathName = (ref: NameRef, pool: readonly string[]) => segment(nameOf(ref, pool), ref.how);

/** What every request may carry besides its route's own input. */
export interface Envelope {
  readonly rest: boolean;
  readonly trailingSlash: boolean;
  readonly contentType: string | undefined;
}

export const envelope: fc.Arbitrary<Envelope> = fc.record({
  rest: fc.boolean(),
  trailingSlash: fc.nat({ max: 9 }).map((n) => n === 0),
  contentType: fc.constantFrom(undefined, "application/json", "application/json", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded"),
});

export function request(env: Envelope, method: string, path: string, more: Omit<FuzzRequest, "method" | "path" | "rest"> = {}): FuzzRequest {
  const headers = { ...(env.contentType === undefined ? {} : { "content-type": env.contentType }), ...more.headers };
  return { ...more, method, path: env.trailingSlash ? `${path}/` : path, rest: env.rest, headers };
}

/** A JSON body: the route's fields (plus stray keys), broken JSON, another JSON value, or rarely a body past 6 MB. */
export type JsonBody<F> = { readonly fields: F; readonly extra: Record<string, unknown> } | { readonly text: string } | { readonly oversized: true };

export function jsonBody<F>(fields: fc.Arbitrary<F>): fc.Arbitrary<JsonBody<F>> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.record({ fields, extra: extraKeys }) },
    { weight: 4, arbitrary: brokenJsonText.map((text) => ({ text })) },
    { weight: 1, arbitrary: anyJson.map((v) => ({ text: jsonText(v) })) },
    { weight: 1, arbitrary: fc.constant({ oversized: true as const }) },
  );
}

export function bodyText<F>(body: JsonBody<F>, resolve: (fields: F) => object = (f) => f as object): string {
  if ("oversized" in body) return oversizedText();
  if ("text" in body) return body.text;
  return jsonText({ ...resolve(body.fields), ...body.extra });
}

