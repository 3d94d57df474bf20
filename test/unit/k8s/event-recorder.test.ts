import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EventRecorder, type EventToPost } from "../../../src/control/k8s/event-recorder.js";
import { ManualClock } from "../../../src/core/clock.js";

const log = pino({ level: "silent" });
const object = { kind: "Service", apiVersion: "v1", namespace: "shop", name: "bad" };
const warning = (message: string): EventToPost => ({
  object,
  type: "Warning",
  reason: "InvalidConfiguration",
  message,
});

class Sink {
  posted: { event: EventToPost; at: number }[] = [];
  fail = false;
  async post(event: EventToPost, at: number): Promise<void> {
    if (this.fail) throw new Error("forbidden");
    this.posted.push({ event, at });
  }
}

describe("Event recorder", () => {
  it("posts an identical Event at most once a minute; a different message or type goes out at once", () => {
    const sink = new Sink();
    const clock = new ManualClock(0);
    const recorder = new EventRecorder(sink, clock, log);
    expect(recorder.record(warning("a: b: c"))).toBe(true);
    clock.advance(59_999);
    expect(recorder.record(warning("a: b: c"))).toBe(false);
    expect(recorder.record(warning("a: b: other"))).toBe(true);
    expect(recorder.record({ ...warning("a: b: c"), object: { ...object, name: "other" } })).toBe(true);
    clock.advance(1);
    expect(recorder.record(warning("a: b: c"))).toBe(true);
    expect(sink.posted.map((p) => [p.event.object.name, p.event.message, p.at])).toEqual([
      ["bad", "a: b: c", 0],
      ["bad", "a: b: other", 59_999],
      ["other", "a: b: c", 59_999],
      ["bad", "a: b: c", 60_000],
    ]);
    expect(recorder.counts).toMatchObject({ posted: 4, repeats: 1 });
  });

  it("remembers a bounded number of Events, forgetting the oldest", () => {
    const sink = new Sink();
    const recorder = new EventRecorder(sink, new ManualClock(0), log, 3);
    for (let i = 0; i < 10; i++) recorder.record(warning(`problem ${i}`));
    expect(recorder.size).toBe(3);
    // The newest are still remembered, the oldest are not.
    expect(recorder.record(warning("problem 9"))).toBe(false);
    expect(recorder.record(warning("problem 0"))).toBe(true);
  });

  it("forgets an Event the API server refused, so that the next rebuild tries again", async () => {
    const sink = new Sink();
    sink.fail = true;
    const recorder = new EventRecorder(sink, new ManualClock(0), log);
    expect(recorder.record(warning("x"))).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(recorder.counts.failed).toBe(1);
    sink.fail = false;
    expect(recorder.record(warning("x"))).toBe(true);
    expect(sink.posted).toHaveLength(1);
  });

  it("cuts messages to the 1024 characters the API server accepts", () => {
    const sink = new Sink();
    new EventRecorder(sink, new ManualClock(0), log).record(warning("x".repeat(5000)));
    expect(sink.posted[0]?.event.message).toHaveLength(1024);
  });
});
