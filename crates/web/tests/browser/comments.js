#!/usr/bin/env node
// The service page with what the error says and community comments, in a real browser:
// hostile comments read as text (no link), posting one by typing and clicking (no script),
// the thank-you line and the new comment, axe-core on a desktop and on a phone in dark
// mode, and screenshots.
// usage: node comments.js BASE_URL SCREENSHOT_DIR
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect, axe } = require("./launch");

const [base, shots] = process.argv.slice(2);
if (!base || !shots) { console.error("usage: node comments.js BASE_URL SCREENSHOT_DIR"); process.exit(2); }
fs.mkdirSync(shots, { recursive: true });
async function main() {
    const out = { axe: {} };
    // bypassCSP only so axe-core can be injected; posting a comment needs no script.
    const desk = await launch({ width: 1280, height: 800, bypassCSP: true });
    try {
        const { page } = desk;
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        const messages = page.getByRole("heading", { name: /What the error says/ });
        expect(await messages.count() === 1, "the messages the screens show");
        const posts = page.getByRole("heading", { name: /Posts about Melodia problems/ });
        expect(await posts.count() === 1, "what social media says");
        out.social = (await posts.locator("xpath=following-sibling::ul[1]").textContent()).trim();
        expect(/On social media: 20 posts in the last hour.* — 55% about Login/.test(out.social), `the posts' share about logging in, got ${out.social}`);
        const comments = page.locator("#comments");
        const shown = comments.locator("ol.comments > li");
        out.before = await shown.count();
        expect(out.before >= 3, `the comments posted before, got ${out.before}`);
        const text = await comments.locator("ol.comments").textContent();
        expect(text.includes('<a href="https://x.example">x</a>'), `the hostile comment as text: ${text}`);
        expect(await page.locator('a[href*="x.example"]').count() === 0, "no link to x.example");

        const field = page.getByLabel("Your comment (at most 280 characters)");
        await field.fill("Playback stops after a minute here too, on the Android app.");
        await page.getByRole("button", { name: "Post comment" }).click();
        await page.waitForLoadState("load");
        out.url = page.url();
        expect(/\?comment=sent#comments$/.test(out.url), `back on the page, got ${out.url}`);
        out.notice = (await page.locator("#comments .notice").textContent()).trim();
        expect(out.notice === "Thanks — your comment is posted.", `the thank-you line, got ${out.notice}`);
        const newest = (await page.locator("ol.comments > li").first().locator("p.comment").textContent()).trim();
        expect(newest.startsWith("Playback stops after a minute"), `the new comment first, got ${newest}`);
        await axe(page, out, "desktop");
        await page.locator("#comments").scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(shots, "service-comments.png"), fullPage: true });

        // An empty comment never leaves the browser (required); one too long comes back
        // from the server with the error and the form.
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        await page.getByLabel("Your comment (at most 280 characters)").evaluate((t) => t.removeAttribute("maxlength"));
        await page.getByLabel("Your comment (at most 280 characters)").fill("x".repeat(300));
        await page.getByRole("button", { name: "Post comment" }).click();
        await page.waitForLoadState("load");
        const alert = (await page.getByRole("alert").textContent()).trim();
        expect(/comment: must be at most 280 characters/.test(alert), `the error naming the field, got ${alert}`);
        await axe(page, out, "error");
        await page.screenshot({ path: path.join(shots, "comment-error.png"), fullPage: true });
    } finally {
        await desk.close();
    }

    const phone = await launch({ width: 390, height: 844, bypassCSP: true });
    try {
        const { page } = phone;
        await page.goto(base + "/s/melodia", { waitUntil: "load" });
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(wide <= 390, `no sideways scrolling on a phone, long links included (page is ${wide}px wide)`);
        await page.emulateMedia({ colorScheme: "dark" });
        await axe(page, out, "phone-dark");
        await page.locator("#comments").screenshot({ path: path.join(shots, "service-comments-phone-dark.png") });
    } finally {
        await phone.close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
