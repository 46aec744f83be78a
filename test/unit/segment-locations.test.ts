import { describe, expect, it } from "vitest";
import { SeglogError } from "../../src/core/errors.ts";
import { parsePartitionsAnswer, parseSegmentsAnswer, partitionsParam, rangeHeader } from "../../src/core/segment-locations.ts";

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

describe("the answer to a fetch of several partitions", () => {
  it("reads each partition's segments or its own typed error, code included, in the order asked", () => {
    const body = {
      partitions: [
        { partition: 3, ...answer },
        { partition: 0, error: { kind: "OffsetOutOfRange", message: "Offset 9 is out of range", retriable: false } },
        { partition: 7, error: { kind: "Throttled", message: "slow down", retriable: true, code: "SlowDown" } },
      ],
    };
    const [three, zero, seven] = parsePartitionsAnswer(JSON.parse(JSON.stringify(body)), [3, 0, 7]);
    expect(three).toEqual({ partition: 3, ...answer });
    expect(zero && "error" in zero && zero.error).toMatchObject({ kind: "OffsetOutOfRange", retriable: false });
    expect(seven && "error" in seven && seven.error).toBeInstanceOf(SeglogError);
    expect(seven && "error" in seven && seven.error).toMatchObject({ kind: "Throttled", retriable: true, code: "SlowDown" });
    expect(partitionsParam([{ partition: 3, offset: 12 }, { partition: 0, offset: 0 }])).toBe("3:12,0:0");
  });

  it("gives every segment that names a shared object that one object, for one GET of it", () => {
    const object = { url: "https://b.s3.eu-west-1.amazonaws.com/log/t/id/s/0-00000000000000000040.log?X-Amz-Signature=z", range: { start: 0, end: 300 } };
    const at = (start: number, end: number) => ({ baseOffset: 40, nextOffset: 41, url: `${object.url}&part=${start}`, range: { start, end }, object: 0 });
    const body = {
      partitions: [
        { partition: 0, ...answer, segments: [at(0, 100)] },
        { partition: 1, ...answer, segments: [at(200, 300), answer.segments[0]] },
      ],
      objects: [object],
    };
    const [zero, one] = parsePartitionsAnswer(JSON.parse(JSON.stringify(body)), [0, 1]);
    const first = zero && "segments" in zero ? zero.segments[0] : undefined;
    const [second, alone] = one && "segments" in one ? one.segments : [];
    expect(first?.shared).toEqual(object);
    expect(second?.shared).toBe(first?.shared);
    expect(alone?.shared).toBeUndefined();
  });

  it("refuses an answer that is not for the partitions asked, or not in the documented form", () => {
    const one = { partitions: [{ partition: 1, ...answer }] };
    const naming = (object: number, range?: { start: number; end: number }) => ({
      partitions: [{ partition: 1, ...answer, segments: [{ baseOffset: 0, nextOffset: 1, url: "u", object, ...(range ? { range } : {}) }] }],
      objects: [{ url: "s", range: { start: 100, end: 200 } }],
    });
    for (const [json, asked] of [
      [one, [2]],
      [one, [1, 2]],
      [naming(1, { start: 100, end: 150 }), [1]], // no such object
      [naming(0, { start: 50, end: 150 }), [1]], // not within it
      [naming(0), [1]], // the whole object is no part of a shared one
      [{ ...one, objects: [{ url: "s" }] }, [1]],
      [{ partitions: [{ partition: 1, error: { kind: "Sideways", message: "?" } }] }, [1]],
      [{ partitions: [{ partition: 1, segments: "none" }] }, [1]],
      [{}, [1]],
    ] as [unknown, number[]][]) {
      let thrown: unknown;
      try {
        parsePartitionsAnswer(json, asked);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(SeglogError);
      expect((thrown as SeglogError).retriable).toBe(false);
    }
  });
});
