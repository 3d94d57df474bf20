import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndReadName } from "../support/backends.js";
import { cookiePair, httpGet } from "../support/http-backends.js";
import { type StickylbProcess, startStickylb, tempDir } from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";
import { udpClient } from "../support/udp-backends.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts");

async function tcpHello(port: number, from: string): Promise<void> {
  const { socket } = await connectAndReadName(port, from);
  socket.destroy();
}

async function udpHello(port: number, from: string): Promise<void> {
  const client = await udpClient(from);
  await client.ask(port, "127.0.0.1", "hi");
  await client.close();
}

interface Status {
  pools: { name: string; members: { endpoint: string }[] }[];
}

describe("dashboard and cookies in a real browser (Debian Chromium)", () => {
  let demo: StickylbProcess;
  let context: BrowserContext;
  let dashboard = "";
  let cookiePort = 0;
  let appPort = 0;
  let tcpPorts: number[] = [];
  let udpPort = 0;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    demo = startStickylb(["demo"]);
    await demo.waitForLog((e) => e.msg === "stickylb started", 15_000);
    const out = demo.stdout();
    dashboard = out.match(/Dashboard: (http:\/\/\S+)/)![1]!;
    const urls = [...out.matchAll(/try: curl -c \S+ -b \S+ http:\/\/127\.0\.0\.1:(\d+)\//g)].map((m) =>
      Number(m[1]),
    );
    [cookiePort, appPort] = urls as [number, number];
    tcpPorts = [...out.matchAll(/try: nc 127\.0\.0\.1 (\d+)/g)].map((m) => Number(m[1]));
    udpPort = Number(out.match(/try: nc -u 127\.0\.0\.1 (\d+)/)![1]);
    context = await chromium.launchPersistentContext(tempDir("stickylb-chromium-"), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    context.on("weberror", (err) => consoleErrors.push(String(err.error())));
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    if (demo !== undefined && demo.child.exitCode === null) await demo.stop("SIGINT");
  });

  it("shows every demo member, updates after traffic, and logs no console error", async () => {
    const page = await context.newPage();
    await page.goto(dashboard);
    const status = (await (await fetch(`${dashboard}api/v1/status`)).json()) as Status;
    const endpoints = status.pools.flatMap((p) => p.members.map((m) => `${p.name}/${m.endpoint}`));
    expect(endpoints).toHaveLength(15);
    await page.waitForFunction(`document.querySelectorAll("[data-member]").length === ${endpoints.length}`);
    const shown = await page.$$eval("[data-member]", (els) => els.map((e) => e.getAttribute("data-member")));
    expect(new Set(shown)).toEqual(new Set(endpoints));
    const text = await page.textContent("#pools");
    for (const p of status.pools) for (const m of p.members) expect(text).toContain(m.endpoint);

    const traffic = () => page.textContent('[data-listener="http-cookie"] .traffic');
    const before = await traffic();
    // A few seconds of mixed traffic at a changing rate (new clients, returning clients with their
    // cookie, several source IPs on L4), so that the screenshot shows every kind of number.
    const sticky = cookiePair((await httpGet(cookiePort)).setCookies, "STICKYLB")!;
    const session = cookiePair((await httpGet(appPort)).setCookies, "JSESSIONID")!;
    for (let s = 0; s < 6; s++) {
      const n = [3, 8, 15, 10, 20, 6][s]!;
      await Promise.all([
        ...Array.from({ length: n }, (_, i) =>
          httpGet(cookiePort, "/", i % 3 === 0 ? {} : { Cookie: sticky }),
        ),
        ...Array.from({ length: n }, (_, i) => httpGet(appPort, "/", i % 2 === 0 ? {} : { Cookie: session })),
        ...Array.from({ length: 2 + s }, (_, i) =>
          tcpHello(tcpPorts[i % 2]!, `127.0.0.${1 + ((s + i) % 7)}`),
        ),
        udpHello(udpPort, `127.0.0.${1 + s}`),
      ]);
      await sleep(1000);
    }
    await page.waitForFunction(
      `document.querySelector('[data-listener="http-cookie"] .traffic')?.textContent !== ${JSON.stringify(before)}`,
    );
    expect(Number(await traffic())).toBeGreaterThan(Number(before));
    const rate = await page.textContent('[data-listener="http-cookie"] .rate');
    expect(rate).toMatch(/req\/s/);
    const hit = await page.textContent('[data-listener="http-app-cookie"] .hit');
    expect(hit).toMatch(/%$/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: resolve(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it("explains from its form where a returning client goes, and the client goes there", async () => {
    const page = await context.newPage();
    await page.goto(dashboard);
    await page.waitForFunction(`document.querySelectorAll("#explain-listener option").length === 5`);
    const first = await httpGet(cookiePort);
    const cookie = cookiePair(first.setCookies, "STICKYLB")!;
    await page.selectOption("#explain-listener", "http-cookie");
    await page.fill("#explain-client", "127.0.0.1");
    await page.fill("#explain-cookie", `theme=dark; ${cookie}`);
    await page.fill("#explain-path", "/cart");
    await page.click("#explain-go");
    await page.waitForSelector("#explain-chosen");
    expect(await page.textContent("#explain-result")).toBe("hit");
    const chosen = (await page.textContent("#explain-chosen"))!;
    const name = /^(alpha|bravo|charlie) 127\.\d+\.\d+\.\d+:\d+$/.exec(chosen)?.[1];
    expect(name).toBeDefined();
    expect(await page.textContent("#explain-reason")).toMatch(
      /STICKYLB cookie issued \d+s ago names .*eligible/,
    );
    // The member the page names is the one the next request with that cookie reaches.
    const next = await httpGet(cookiePort, "/cart", { Cookie: cookie });
    expect(next.body).toContain(`hello from ${name}`);
    expect(await page.$$eval("[data-explain-member]", (rows) => rows.length)).toBe(3);
    mkdirSync(ARTIFACTS, { recursive: true });
    await (await page.$("section.explain"))!.screenshot({
      path: resolve(ARTIFACTS, "dashboard-explain.png"),
    });

    await page.fill("#explain-client", "not-an-ip");
    await page.click("#explain-go");
    await page.waitForSelector("#explain-error");
    expect(await page.textContent("#explain-error")).toContain("not an IPv4 or IPv6 address");
    // Chromium reports every 4xx fetch on the console; that one 400 was asked for.
    expect(consoleErrors).toEqual([expect.stringContaining("status of 400")]);
    consoleErrors.length = 0;
    await page.close();
  });

  it("keeps reaching one backend across reloads of the HTTP_COOKIE listener's page", async () => {
    const page = await context.newPage();
    const url = `http://127.0.0.1:${cookiePort}/`;
    const seen: string[] = [];
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    seen.push((await page.textContent("body"))!);
    for (let i = 0; i < 6; i++) {
      await page.reload();
      seen.push((await page.textContent("body"))!);
    }
    const names = seen.map((t) => /hello from (alpha|bravo|charlie)/.exec(t)?.[1]);
    expect(names[0]).toBeDefined();
    expect(new Set(names)).toEqual(new Set([names[0]]));
    const cookies = await context.cookies(url);
    expect(cookies.map((c) => c.name)).toContain("STICKYLB");
    expect(cookies.find((c) => c.name === "STICKYLB")!.httpOnly).toBe(true);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
