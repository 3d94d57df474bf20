import { describe, expect, it } from "vitest";
import {
  type KernelMember,
  type KernelPlan,
  kernelMaglevSize,
  nftName,
  renderRuleset,
  smoothSequence,
  transactionText,
} from "../../../src/kernel/ruleset.js";

const member = (last: number, fields: Partial<KernelMember> = {}): KernelMember => ({
  address: `10.77.2.${last}`,
  port: 9000,
  weight: 1,
  healthy: true,
  draining: false,
  ...fields,
});

function plan(
  members: readonly KernelMember[],
  persistenceTimeoutMs: number | undefined = 30_000,
): KernelPlan {
  return {
    table: "slb",
    listeners: [
      { name: "tcp", protocol: "TCP", address: "10.77.0.1", port: 80, pool: "rr", preserveClientIp: false },
      { name: "udp", protocol: "UDP", address: "0.0.0.0", port: 53, pool: "rr", preserveClientIp: true },
      { name: "hash", protocol: "TCP", address: "10.77.0.1", port: 81, pool: "ip", preserveClientIp: false },
    ],
    pools: [
      { name: "rr", algorithm: "ROUND_ROBIN", persistenceTimeoutMs, maxBindings: 5000, members },
      { name: "ip", algorithm: "SOURCE_IP", members },
      { name: "unused", algorithm: "ROUND_ROBIN", members },
    ],
  };
}

const lineOf = (text: string, needle: string) =>
  text
    .split("\n")
    .find((l) => l.includes(needle))
    ?.trim();

describe("renderRuleset", () => {
  const three = [member(1, { weight: 2 }), member(2), member(3)];
  const rendered = renderRuleset(plan(three));
  const text = rendered.block;
  const counter = (listener: string) => rendered.counters.get(listener)!;
  const rrChain = nftName("p", "rr");
  const ipChain = nftName("p", "ip");
  const m1 = nftName("m", "rr", "10.77.2.1:9000");

  it("matches each listener in prerouting and output, counts it and jumps to its pool", () => {
    expect(text).toContain("type nat hook prerouting priority dstnat; policy accept;");
    expect(text).toContain("type nat hook output priority -100; policy accept;");
    const tcp = `ip daddr 10.77.0.1 tcp dport 80 counter name ${counter("tcp")} jump ${rrChain}`;
    const udp = `fib daddr type local udp dport 53 counter name ${counter("udp")} jump ${rrChain}`;
    expect(text.split(tcp).length - 1).toBe(2);
    expect(text.split(udp).length - 1).toBe(2);
    expect(text).toContain(`counter ${counter("hash")} {`);
  });

  it("masquerades with fully random ports unless the listener preserves the client address", () => {
    expect(text).toContain(
      "ct status dnat meta l4proto tcp ct original ip daddr 10.77.0.1 ct original proto-dst 80 masquerade fully-random",
    );
    expect(text).toContain("ct original proto-dst 81 masquerade fully-random");
    expect(text).not.toContain("ct original proto-dst 53 masquerade");
  });

  it("checks each member's binding set before a smooth weighted spread of new clients", () => {
    const sets = rendered.bindingSets.map((s) => s.set);
    expect(rendered.bindingSets.map((s) => s.member)).toEqual([
      "10.77.2.1:9000",
      "10.77.2.2:9000",
      "10.77.2.3:9000",
    ]);
    expect(text).toContain(
      `set ${sets[0]} {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout 30s\n    size 5000\n  }`,
    );
    expect(text).toContain(
      `chain ${m1} {\n    update @${sets[0]} { ip saddr }\n    meta l4proto { tcp, udp } dnat ip to 10.77.2.1:9000\n  }`,
    );
    const rr = text.slice(text.indexOf(`chain ${rrChain} {`));
    expect(rr.indexOf(`ip saddr @${sets[0]} jump ${m1}`)).toBeGreaterThan(0);
    const m2 = nftName("m", "rr", "10.77.2.2:9000");
    const m3 = nftName("m", "rr", "10.77.2.3:9000");
    // weights 2, 1, 1: the smooth order is 1, 2, 3, 1 — interleaved, not 1, 1, 2, 3.
    expect(lineOf(rr, "numgen")).toBe(
      `numgen inc mod 4 vmap { 0 : jump ${m1}, 1 : jump ${m2}, 2 : jump ${m3}, 3 : jump ${m1} }`,
    );
    // Packets of open connections refresh the binding after DNAT, on both hooks.
    const refresh = `ct direction original ct status dnat meta l4proto tcp ct original ip daddr 10.77.0.1 ct original proto-dst 80 ip daddr 10.77.2.1 th dport 9000 update @${sets[0]} { ip saddr }`;
    expect(text).toContain(
      `chain refresh_in {\n    type filter hook prerouting priority filter; policy accept;\n    ${refresh}`,
    );
    expect(text).toContain(
      `chain refresh_out {\n    type filter hook output priority filter; policy accept;\n    ${refresh}`,
    );
  });

  it("installs SOURCE_IP as a Maglev map indexed by a seeded jhash of the source address", () => {
    const rule = lineOf(text.slice(text.indexOf(`chain ${ipChain} {`)), "jhash")!;
    expect(
      rule.startsWith(
        "meta l4proto { tcp, udp } dnat ip to jhash ip saddr mod 1021 seed 0x5eed1e55 map { 0 : ",
      ),
    ).toBe(true);
    const entries = rule.match(/\d+ : 10\.77\.2\.\d \. 9000/g)!;
    expect(entries).toHaveLength(1021);
    for (const m of ["10.77.2.1", "10.77.2.2", "10.77.2.3"]) {
      const owned = entries.filter((e) => e.includes(`${m} .`)).length;
      expect(Math.abs(owned - 1021 / 3)).toBeLessThanOrEqual(1); // Maglev: ⌊M/N⌋ or ⌈M/N⌉ each
    }
  });

  it("gives draining members their set check but no new clients; drops unhealthy and weight-0 members", () => {
    const r = renderRuleset(
      plan([
        member(1),
        member(2, { draining: true }),
        member(3, { healthy: false }),
        member(4, { weight: 0 }),
      ]),
    );
    const [s1, s2, s3, s4] = r.bindingSets;
    expect(r.bindingSets.map((s) => s.keepsBindings)).toEqual([true, true, false, false]);
    const rr = r.block.slice(r.block.indexOf(`chain ${rrChain} {`));
    expect(rr).toContain(`ip saddr @${s2!.set} jump ${nftName("m", "rr", "10.77.2.2:9000")}`);
    expect(rr).not.toContain(`@${s3!.set}`);
    expect(rr).not.toContain(`@${s4!.set}`);
    expect(lineOf(rr, "numgen")).toBe(
      `numgen inc mod 1 vmap { 0 : jump ${nftName("m", "rr", "10.77.2.1:9000")} }`,
    );
    expect(r.block).not.toContain("dnat ip to 10.77.2.3:9000");
    expect(lineOf(r.block.slice(r.block.indexOf(`chain ${ipChain} {`)), "jhash")).not.toMatch(
      /10\.77\.2\.[234] \./,
    );
    expect(s1!.set).not.toBe(s2!.set);
  });

  it("leaves a pool with no eligible member without a DNAT (the kernel then refuses the client)", () => {
    const r = renderRuleset(plan([member(1, { healthy: false })], undefined));
    expect(r.block).toContain(`chain ${rrChain} {\n  }`);
    expect(r.block).toContain(`chain ${ipChain} {\n  }`);
  });

  it("names objects by identity, so reordering members changes nothing and pools not used are left out", () => {
    expect(renderRuleset(plan([...three].reverse())).block).toBe(text);
    expect(text).not.toContain(nftName("p", "unused"));
  });

  it("spreads very large total weights by random ranges", () => {
    const many = Array.from({ length: 50 }, (_, i) => member(i + 1, { weight: 100 - (i % 2) }));
    const r = renderRuleset(plan(many, undefined));
    expect(lineOf(r.block, "numgen")).toMatch(
      /^numgen random mod 4975 vmap \{ 0-98 : jump m_\w+, 99-198 : jump m_/,
    );
  });
});

describe("renderRuleset with IPv6", () => {
  const member6 = (last: number, fields: Partial<KernelMember> = {}): KernelMember => ({
    ...member(last, fields),
    address: `fd00:77:2::${last}`,
  });
  const members6 = [member6(1, { weight: 2 }), member6(2), member6(3)];
  const dual: KernelPlan = {
    table: "slb",
    listeners: [
      {
        name: "tcp6",
        protocol: "TCP",
        address: "fd00:77::1",
        port: 80,
        pool: "rr6",
        preserveClientIp: false,
      },
      {
        name: "hash6",
        protocol: "UDP",
        address: "fd00:77::1",
        port: 81,
        pool: "ip6",
        preserveClientIp: false,
      },
      { name: "any4", protocol: "TCP", address: "0.0.0.0", port: 82, pool: "ip4", preserveClientIp: false },
    ],
    pools: [
      { name: "rr6", algorithm: "ROUND_ROBIN", persistenceTimeoutMs: 30_000, members: members6 },
      { name: "ip6", algorithm: "SOURCE_IP", members: members6 },
      { name: "ip4", algorithm: "SOURCE_IP", members: [member(1), member(2)] },
    ],
  };
  const rendered = renderRuleset(dual);
  const text = rendered.block;
  const rr6 = nftName("p", "rr6");
  const ip6 = nftName("p", "ip6");
  const ip4 = nftName("p", "ip4");
  const m1 = nftName("m", "rr6", "[fd00:77:2::1]:9000");

  it("matches IPv6 listeners by ip6 daddr, and 0.0.0.0 only for IPv4 packets", () => {
    const tcp6 = `ip6 daddr fd00:77::1 tcp dport 80 counter name ${rendered.counters.get("tcp6")} jump ${rr6}`;
    const any4 = `meta nfproto ipv4 fib daddr type local tcp dport 82 counter name ${rendered.counters.get("any4")} jump ${ip4}`;
    expect(text.split(tcp6).length - 1).toBe(2);
    expect(text.split(any4).length - 1).toBe(2);
  });

  it("keeps IPv6 bindings in ipv6_addr timeout sets and DNATs to bracketed IPv6 members", () => {
    const [s1] = rendered.bindingSets;
    expect(rendered.bindingSets.map((s) => [s.member, s.family])).toEqual([
      ["[fd00:77:2::1]:9000", "ip6"],
      ["[fd00:77:2::2]:9000", "ip6"],
      ["[fd00:77:2::3]:9000", "ip6"],
    ]);
    expect(text).toContain(
      `set ${s1!.set} {\n    type ipv6_addr\n    flags dynamic,timeout\n    timeout 30s\n    size 1000000\n  }`,
    );
    expect(text).toContain(`ip6 saddr @${s1!.set} jump ${m1}`);
    expect(text).toContain(
      `chain ${m1} {\n    update @${s1!.set} { ip6 saddr }\n    meta l4proto { tcp, udp } dnat ip6 to [fd00:77:2::1]:9000\n  }`,
    );
    expect(text).toContain(
      `ct direction original ct status dnat meta l4proto tcp ct original ip6 daddr fd00:77::1 ct original proto-dst 80 ip6 daddr fd00:77:2::1 th dport 9000 update @${s1!.set} { ip6 saddr }`,
    );
  });

  it("installs an IPv6 SOURCE_IP pool as a Maglev map indexed by jhash of ip6 saddr", () => {
    const rule = lineOf(text.slice(text.indexOf(`chain ${ip6} {`)), "jhash")!;
    expect(
      rule.startsWith(
        "meta l4proto { tcp, udp } dnat ip6 to jhash ip6 saddr mod 1021 seed 0x5eed1e55 map { 0 : ",
      ),
    ).toBe(true);
    expect(rule.match(/\d+ : fd00:77:2::\d \. 9000/g)).toHaveLength(1021);
    const v4 = lineOf(text.slice(text.indexOf(`chain ${ip4} {`)), "jhash")!;
    expect(v4).toMatch(/^meta l4proto \{ tcp, udp \} dnat ip to jhash ip saddr mod 1021 /);
  });

  it("masquerades each family by its own original destination", () => {
    expect(text).toContain(
      "ct status dnat meta l4proto tcp ct original ip6 daddr fd00:77::1 ct original proto-dst 80 masquerade fully-random",
    );
    expect(text).toContain(
      "ct status dnat meta l4proto udp ct original ip6 daddr fd00:77::1 ct original proto-dst 81 masquerade fully-random",
    );
    expect(text).toContain(
      "meta nfproto ipv4 ct status dnat meta l4proto tcp ct original proto-dst 82 masquerade fully-random",
    );
  });

  it("writes no IPv4 match into an IPv6 pool's rules", () => {
    const v6Rules = text.slice(text.indexOf(`chain ${rr6} {`), text.indexOf(`chain ${rr6} {`) + 2000);
    expect(text.slice(text.indexOf(`chain ${ip6} {`)).split("\n")[1]).not.toMatch(/ ip saddr|dnat ip to/);
    expect(v6Rules.split("\n  }")[0]).not.toMatch(/ ip saddr|dnat ip to/);
  });
});

describe("transactionText", () => {
  const before = renderRuleset(plan([member(1), member(2), member(3)]));

  it("creates the table or replaces a stale one in one transaction at start", () => {
    expect(transactionText(before, undefined)).toBe(`table inet slb\ndelete table inet slb\n${before.block}`);
  });

  it("later flushes the table (keeping set elements), deletes what is gone and empties sets of members that lost their clients", () => {
    const after = renderRuleset(plan([member(1), member(2, { healthy: false })]));
    const gone = before.bindingSets[2]!.set;
    const down = before.bindingSets[1]!.set;
    const head = transactionText(after, before).split("table inet slb {")[0];
    expect(head).toBe(
      [
        "add table inet slb",
        "flush table inet slb",
        `delete chain inet slb ${nftName("m", "rr", "10.77.2.2:9000")}`,
        `delete chain inet slb ${nftName("m", "rr", "10.77.2.3:9000")}`,
        `delete set inet slb ${gone}`,
        `flush set inet slb ${down}`,
        "",
      ].join("\n"),
    );
  });
});

describe("helpers", () => {
  it("kernel Maglev maps keep at least 100 entries per member", () => {
    expect(kernelMaglevSize(1)).toBe(1021);
    expect(kernelMaglevSize(11)).toBe(2039);
    expect(kernelMaglevSize(655)).toBe(65_537);
    expect(() => kernelMaglevSize(656)).toThrow(/at most 655/);
  });

  it("smooth weighted round robin interleaves and gives each its weight", () => {
    expect(smoothSequence([5, 1, 1])).toEqual([0, 0, 1, 0, 2, 0, 0]);
  });
});
