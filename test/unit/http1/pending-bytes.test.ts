import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PendingBytes } from "../../../src/data/http1/pending-bytes.js";

const b = (text: string): Buffer => Buffer.from(text, "latin1");
const text = (p: PendingBytes): string => (p.length === 0 ? "" : p.view().toString("latin1"));

describe("PendingBytes", () => {
  it("starts empty", () => {
    const p = new PendingBytes();
    expect(p.length).toBe(0);
  });

  it("keeps a single chunk as it is (no copy)", () => {
    const p = new PendingBytes();
    const chunk = b("GET / HTTP/1.1\r\n");
    p.append(chunk);
    expect(p.length).toBe(chunk.length);
    expect(p.view()).toBe(chunk);
  });

  it("ignores empty appends", () => {
    const p = new PendingBytes();
    p.append(Buffer.alloc(0));
    expect(p.length).toBe(0);
    p.append(b("ab"));
    p.append(Buffer.alloc(0));
    expect(text(p)).toBe("ab");
  });

  it("joins appended chunks in order", () => {
    const p = new PendingBytes();
    p.append(b("GET / "));
    p.append(b("HTTP/1.1\r\n"));
    p.append(b("Host: h\r\n\r\n"));
    expect(text(p)).toBe("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    expect(p.length).toBe(27);
  });

  it("consumes from the front", () => {
    const p = new PendingBytes();
    p.append(b("abcdef"));
    p.consume(2);
    expect(text(p)).toBe("cdef");
    expect(p.length).toBe(4);
    p.consume(3);
    expect(text(p)).toBe("f");
  });

  it("is empty once everything is consumed, and takes new chunks afterwards", () => {
    const p = new PendingBytes();
    p.append(b("abc"));
    p.append(b("def"));
    p.consume(6);
    expect(p.length).toBe(0);
    p.append(b("xyz"));
    expect(text(p)).toBe("xyz");
  });

  it("treats consuming more than it holds as consuming everything", () => {
    const p = new PendingBytes();
    p.append(b("abc"));
    p.consume(10);
    expect(p.length).toBe(0);
    p.append(b("d"));
    expect(text(p)).toBe("d");
  });

  it("appends correctly after a partial consume", () => {
    const p = new PendingBytes();
    p.append(b("abcdef"));
    p.consume(4);
    p.append(b("gh"));
    expect(text(p)).toBe("efgh");
    p.consume(1);
    p.append(b("ijklmnop"));
    expect(text(p)).toBe("fghijklmnop");
  });

  it("clear drops everything", () => {
    const p = new PendingBytes();
    p.append(b("abc"));
    p.append(b("def"));
    p.clear();
    expect(p.length).toBe(0);
    p.append(b("g"));
    expect(text(p)).toBe("g");
  });

  it("never writes into a chunk it was given", () => {
    const p = new PendingBytes();
    const first = b("first");
    p.append(first);
    p.consume(2);
    p.append(b("second"));
    p.append(b("third"));
    expect(first.toString("latin1")).toBe("first");
    expect(text(p)).toBe("rstsecondthird");
  });

  it("leaves earlier views of consumed bytes intact (queued body pieces point into them)", () => {
    const p = new PendingBytes();
    p.append(b("0123456789"));
    p.append(b("abcdefghij"));
    const early = p.view().subarray(0, 5);
    p.consume(5);
    for (let i = 0; i < 100; i++) p.append(b("x".repeat(i % 7)));
    expect(early.toString("latin1")).toBe("01234");
  });

  it("holds a large head appended byte by byte", () => {
    const p = new PendingBytes();
    const head = `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"y".repeat(70_000)}\r\n\r\n`;
    for (let i = 0; i < head.length; i++) p.append(b(head[i]!));
    expect(p.length).toBe(head.length);
    expect(text(p)).toBe(head);
  });

  it("keeps its content exact under byte-by-byte appends (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const p = new PendingBytes();
        for (const byte of bytes) p.append(Buffer.from([byte]));
        expect(p.length).toBe(bytes.length);
        if (bytes.length > 0) expect(Buffer.compare(p.view(), Buffer.from(bytes))).toBe(0);
      }),
    );
  });

  it("matches a plain array model under any mix of appends, consumes and clears (property)", () => {
    type Op =
      | { kind: "append"; bytes: Uint8Array }
      | { kind: "consume"; n: number }
      | { kind: "clear" }
      | { kind: "view" };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: "append", bytes }) as Op),
      },
      { weight: 3, arbitrary: fc.nat(80).map((n) => ({ kind: "consume", n }) as Op) },
      { weight: 1, arbitrary: fc.constant({ kind: "clear" } as Op) },
      { weight: 2, arbitrary: fc.constant({ kind: "view" } as Op) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const p = new PendingBytes();
        let model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case "append":
              p.append(Buffer.from(o.bytes));
              model.push(...o.bytes);
              break;
            case "consume": {
              // The connection only consumes what it holds; past that is "everything".
              const n = Math.min(o.n, model.length);
              if (n === 0) break;
              p.consume(n);
              model = model.slice(n);
              break;
            }
            case "clear":
              p.clear();
              model = [];
              break;
            case "view":
              if (model.length > 0) expect([...p.view()]).toEqual(model);
              break;
          }
          expect(p.length).toBe(model.length);
        }
        if (model.length > 0) expect([...p.view()]).toEqual(model);
      }),
    );
  });

  it("keeps views of consumed bytes intact whatever follows (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 30 }),
        fc.nat(),
        (before, after, cut) => {
          const p = new PendingBytes();
          for (const c of before) p.append(Buffer.from(c));
          const n = 1 + (cut % p.length);
          const view = p.view().subarray(0, n);
          const expected = Buffer.from(view);
          p.consume(n);
          for (const c of after) p.append(Buffer.from(c));
          expect(view.equals(expected)).toBe(true);
        },
      ),
    );
  });
});
