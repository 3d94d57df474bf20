import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import type { ListenerModel, Rule } from "../../../src/core/model.js";
import {
  compileRoutes,
  normalizeHost,
  pathOf,
  prefixMatches,
} from "../../../src/data/router/route-matcher.js";
import { bindKeyOf } from "../../../src/data/snapshot.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import { buildSnapshot } from "../../../src/runtime/build-snapshot.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";

const rule = (r: Partial<Rule> & { pool: string }): Rule => ({ pathType: "Prefix", ...r });

describe("prefixMatches", () => {
  it("matches whole path segments only", () => {
    expect(prefixMatches("/api", "/api")).toBe(true);
    expect(prefixMatches("/api", "/api/")).toBe(true);
    expect(prefixMatches("/api", "/api/x")).toBe(true);
    expect(prefixMatches("/api", "/apix")).toBe(false);
    expect(prefixMatches("/api", "/ap")).toBe(false);
    expect(prefixMatches("", "/anything")).toBe(true);
  });
});

describe("compileRoutes", () => {
  const routes = compileRoutes({
    defaultPool: "fallback",
    rules: [
      rule({ host: "www.example.com", path: "/api", pool: "api" }),
      rule({ path: "/api/", pool: "api-any-host" }),
      rule({ host: "www.example.com", path: "/login", pathType: "Exact", pool: "login" }),
      rule({ host: "static.example.com", pool: "static" }),
      rule({ path: "/", pool: "root" }),
    ],
  });

  it("first match wins, in rule order", () => {
    expect(routes("www.example.com", "/api/users")).toBe("api");
    expect(routes("other.example.com", "/api/users")).toBe("api-any-host");
    expect(routes("other.example.com", "/api")).toBe("api-any-host");
  });

  it("Exact matches the path only as written", () => {
    expect(routes("www.example.com", "/login")).toBe("login");
    expect(routes("www.example.com", "/login/")).toBe("root");
  });

  it("a rule without path matches every path of its host; `/` matches all", () => {
    expect(routes("static.example.com", "/a/b")).toBe("static");
    expect(routes("nowhere", "/x")).toBe("root");
  });

  it("falls back to defaultPool, else undefined (404)", () => {
    const r = compileRoutes({ defaultPool: "d", rules: [rule({ path: "/a", pool: "a" })] });
    expect(r("h", "/b")).toBe("d");
    const none = compileRoutes({ rules: [rule({ path: "/a", pool: "a" })] });
    expect(none("h", "/b")).toBeUndefined();
  });

  it("is compiled once per listener when the snapshot is built", () => {
    const listener = {
      name: "web",
      protocol: "HTTP",
      address: "127.0.0.1",
      port: 0,
      rules: [rule({ path: "/api", pool: "api" })],
      defaultPool: "x",
      tls: [],
    } as unknown as ListenerModel;
    const clock = new ManualClock(0);
    const snapshot = buildSnapshot(
      { listeners: [listener], pools: [] },
      1,
      new MemberRegistry(clock),
      new PoolStates(clock),
      undefined,
      1000,
    );
    const compiled = snapshot.compiled.get(bindKeyOf(listener))!;
    expect(compiled.model).toBe(listener);
    expect(compiled.routes("h", "/api/x")).toBe("api");
    expect(compiled.routes("h", "/b")).toBe("x");
  });
});

describe("normalizeHost and pathOf", () => {
  it("lower-cases the host and drops its port", () => {
    expect(normalizeHost("WWW.Example.COM:8080")).toBe("www.example.com");
    expect(normalizeHost("[::1]:8080")).toBe("[::1]");
    expect(normalizeHost(undefined)).toBe("");
  });

  it("takes the path of origin-form and absolute-form targets without the query", () => {
    expect(pathOf("/a/b?c=d")).toBe("/a/b");
    expect(pathOf("http://h:1/x/y?z")).toBe("/x/y");
    expect(pathOf("http://h")).toBe("/");
  });
});
