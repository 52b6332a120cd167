#!/usr/bin/env node
// Moderating comments in a real browser: an editor signs in, finds the queue from the
// dashboard (with its count), approves a comment in one click and finds it on the public
// page. axe-core on the queue, light and dark; screenshots.
// usage: node moderate.js BASE_URL SCREENSHOT_DIR USER PASSWORD TEXT
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect, axe } = require("./launch");

const [base, shots, user, password, text] = process.argv.slice(2);
if (!text) {
    console.error("usage: node moderate.js BASE_URL SCREENSHOT_DIR USER PASSWORD TEXT");
    process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

async function main() {
    const out = { axe: {} };
    // bypassCSP only so axe-core can be injected; the pages themselves run no script.
    const { page, close } = await launch({ width: 1280, height: 800, bypassCSP: true });
    try {
        await page.goto(base + "/admin/login", { waitUntil: "load" });
        await page.getByLabel("User name").fill(user);
        await page.getByLabel("Password").fill(password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(/\/admin$/);
        const link = page.getByRole("link", { name: /comments? awaiting approval/ });
        out.dashboard = (await link.textContent()).trim();
        await link.click();
        await page.waitForURL(/\/admin\/s\/melodia\/comments$/);
        await axe(page, out, "queue");
        await page.screenshot({ path: path.join(shots, "admin-comments.png"), fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await axe(page, out, "queue-dark");
        await page.emulateMedia({ colorScheme: "light" });

        const item = page.locator("li", { hasText: text });
        await item.getByRole("button", { name: "Approve" }).click();
        await page.waitForURL(/done=approved$/);
        out.notice = (await page.locator("p.notice").textContent()).trim();
        expect(/^Approved/.test(out.notice), `the approval said, got ${out.notice}`);

        // The public page reloads within about a second of the change.
        let shown = false;
        for (let i = 0; i < 40 && !shown; i++) {
            await page.goto(base + "/s/melodia", { waitUntil: "load" });
            shown = (await page.locator("#comments ol.comments").count()) > 0
                && (await page.locator("#comments ol.comments").textContent()).includes(text);
            if (!shown) await page.waitForTimeout(250);
        }
        expect(shown, `the approved comment on the public page: ${text}`);
    } finally {
        await close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
