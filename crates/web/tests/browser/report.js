#!/usr/bin/env node
// The service page in a real browser: weight, keyboard entry, reporting a problem by
// clicking, the thank-you view, the count going up, axe-core, and screenshots.
// usage: node report.js BASE_URL SCREENSHOT_DIR
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect } = require("./launch");

const [base, shots] = process.argv.slice(2);
if (!base || !shots) { console.error("usage: node report.js BASE_URL SCREENSHOT_DIR"); process.exit(2); }
fs.mkdirSync(shots, { recursive: true });

async function count(page) {
    return parseInt(await page.locator("#reports-hour").textContent(), 10);
}

async function main() {
    const out = {};
    const desk = await launch({ width: 1280, height: 800, bypassCSP: true });
    try {
        const { page, context } = desk;
        const seen = [];
        const sizes = [];
        context.on("request", (r) => { if (/^https?:/.test(r.url())) seen.push(r.url()); });
        context.on("requestfinished", (r) => sizes.push(r.sizes().then((s) => s.responseBodySize)));
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        await page.waitForLoadState("networkidle");
        out.requests = seen.length;
        out.bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
        out.offMachine = seen.filter((u) => !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u));
        expect(out.requests <= 3, `at most 3 requests, got ${out.requests}: ${seen}`);
        expect(out.bytes <= 30000, `at most 30000 bytes, got ${out.bytes}`);
        expect(out.offMachine.length === 0, `nothing fetched off the machine: ${out.offMachine}`);
        await page.screenshot({ path: path.join(shots, "service-desktop.png"), fullPage: true });

        // Keyboard: the first Tab lands on the skip link.
        await page.keyboard.press("Tab");
        expect(await page.evaluate(() => document.activeElement?.className === "skip"), "the skip link first");

        const before = await count(page);
        out.before = before;
        await page.locator("summary").click();
        await page.getByLabel("Device").selectOption("android");
        await page.getByRole("button", { name: "Playback", exact: true }).click();
        await page.waitForSelector("h1:has-text('Thank you')");
        out.thanks = (await page.locator("#same-count").textContent()).trim();
        expect(/Playback problems with Melodia/.test(out.thanks), `a count on the thank-you view: ${out.thanks}`);
        expect((await page.locator("main").textContent()).includes("Device: Android app"), "the chosen device recorded");
        await page.screenshot({ path: path.join(shots, "thanks-desktop.png"), fullPage: true });

        // The page refreshes within about a second of the new report.
        let after = before;
        for (let i = 0; i < 40 && after <= before; i++) {
            await page.goto(base + "/s/melodia", { waitUntil: "load" });
            after = await count(page);
            if (after <= before) await page.waitForTimeout(250);
        }
        out.after = after;
        expect(after === before + 1, `the count to go from ${before} to ${before + 1}, got ${after}`);

        await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
        const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
        out.axe = axe.violations.map((v) => `${v.impact} ${v.id} (${v.nodes.length})`);
        const bad = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        expect(bad.length === 0, `no serious or critical axe violations: ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
    } finally {
        await desk.close();
    }

    // Under the page's own Content-Security-Policy (no bypass): nothing is blocked, nothing
    // logs an error, and the live refresh works.
    const strict = await launch({ width: 1280, height: 800 });
    try {
        const { page } = strict;
        const errors = [];
        page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
        page.on("pageerror", (e) => errors.push("uncaught: " + e.message));
        // Live refresh: a report from someone else shows up without a reload, once the
        // page's 30-second timer fires (the page's clock is fast-forwarded; the server's
        // refresher runs on real time).
        await page.clock.install();
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        const shown = await count(page);
        const posted = await fetch(base + "/api/v1/services/melodia/reports", {
            method: "POST",
            headers: { "content-type": "application/json", "x-forwarded-for": "10.77.0.1" },
            body: JSON.stringify({ problem: "search" }),
        });
        expect(posted.status === 202, `the API to accept a report, got ${posted.status}`);
        let live = shown;
        for (let i = 0; i < 40 && live <= shown; i++) {
            await page.waitForTimeout(250);
            await page.clock.fastForward(31000);
            live = await count(page);
        }
        out.live = [shown, live];
        expect(live === shown + 1, `the live count to go from ${shown} to ${shown + 1} without a reload, got ${live}`);
        out.consoleErrors = errors;
        expect(errors.length === 0, `no console errors under the page's CSP: ${JSON.stringify(errors)}`);
    } finally {
        await strict.close();
    }

    const phone = await launch({ width: 390, height: 844, bypassCSP: true });
    try {
        const { page } = phone;
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(wide <= 390, `no sideways scrolling on a phone (page is ${wide}px wide)`);
        await page.screenshot({ path: path.join(shots, "service-phone.png"), fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await page.screenshot({ path: path.join(shots, "service-phone-dark.png"), fullPage: true });
        await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
        const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
        const bad = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        expect(bad.length === 0, `no serious or critical axe violations in dark mode on a phone: ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
    } finally {
        await phone.close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
