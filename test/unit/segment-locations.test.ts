import { describe, expect, it } from "vitest";
import { parseSegmentsAnswer, rangeHeader } from "../../src/core/segment-locations.ts";

const answer = {
  segments: [
    { baseOffset: 0, nextOffset: 3, url: "https://b.s3.eu-west-1.amazonaws.com/log/t/id/0/00000000000000000000.log?X-Amz-Signature=x" },
    { baseOffset: 3, nextOffset: 9, url: "https://b.s3.eu-west-1.amazonaws.com/log/t/id/r/0-00000000000000000003.log?X-Amz-Signature=y", range: { start: 120, end: 480 } },
  ],
  nextOffset: 9,
  highWatermark: 12,
  logStartOffset: 0,
};

describe("the segments answer", () => {
  it("reads a documented answer as it is, and writes a range as HTTP's inclusive Range header", () => {
    expect(parseSegmentsAnswer(JSON.parse(JSON.stringify(answer)))).toEqual(answer);
    expect(parseSegmentsAnswer({ ...answer, segments: [] }).segments).toEqual([]);
    expect(rangeHeader({ start: 120, end: 480 })).toBe("bytes=120-479");
  });

  it("refuses anything else as a server bug, not retriable", () => {
    const broken: unknown[] = [
      undefined,
      null,
      "segments",
      { ...answer, segments: "none" },
      { ...answer, nextOffset: -1 },
      { ...answer, highWatermark: 1.5 },
      { ...answer, logStartOffset: undefined },
      { ...answer, segments: [{ baseOffset: 0, nextOffset: 1 }] },
      { ...answer, segments: [{ baseOffset: 0, nextOffset: 1, url: 7 }] },
      { ...answer, segments: [{ baseOffset: 0, nextOffset: 1, url: "u", range: { start: 5, end: 5 } }] },
      { ...answer, segments: [{ baseOffset: 0, nextOffset: 1, url: "u", range: { start: -1, end: 5 } }] },
      { ...answer, segments: [null] },
    ];
    for (const body of broken) {
      expect(() => parseSegmentsAnswer(body), JSON.stringify(body)).toThrow(expect.objectContaining({ kind: "Internal", retriable: false }));
    }
  });
});
