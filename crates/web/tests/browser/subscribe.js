#!/usr/bin/env node
// Subscribing in a real browser, in two steps (the test reads the confirmation mail in
// between): `form` subscribes from the service page's form; `manage` opens the link of the
// mail, confirms, then unsubscribes. axe-core on every page, screenshots.
// usage: node subscribe.js form BASE_URL SCREENSHOT_DIR EMAIL
//        node subscribe.js manage BASE_URL SCREENSHOT_DIR MANAGE_PATH
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect, axe } = require("./launch");

const [step, base, shots, arg] = process.argv.slice(2);
if (!arg || !["form", "manage"].includes(step)) {
    console.error("usage: node subscribe.js form|manage BASE_URL SCREENSHOT_DIR EMAIL|MANAGE_PATH");
    process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
async function main() {
    const out = { axe: {} };
    // bypassCSP only so axe-core can be injected; the pages run no script of their own here.
    const { page, close } = await launch({ bypassCSP: true });
    try {
        if (step === "form") {
            await page.goto(`${base}/s/melodia`, { waitUntil: "load" });
            const form = page.locator("form.subscribe");
            await form.getByLabel("Your mail address").fill(arg);
            await form.getByLabel("Login and accounts").check();
            await form.getByRole("button", { name: "Subscribe" }).click();
            await page.waitForLoadState("load");
            out.answer = (await page.locator("h1").textContent()).trim();
            expect(await page.getByText("Check your mail").count() > 0, `"Check your mail", got ${out.answer}`);
            await axe(page, out, "subscribed");
            await page.screenshot({ path: path.join(shots, "subscribe-check-mail.png"), fullPage: true });
        } else {
            await page.goto(base + arg, { waitUntil: "load" });
            await axe(page, out, "manage");
            await page.screenshot({ path: path.join(shots, "subscription-manage.png"), fullPage: true });
            await page.getByRole("button", { name: "Confirm my subscription" }).click();
            await page.waitForLoadState("load");
            expect(await page.getByText("Confirmed").count() > 0, "Confirmed");
            await axe(page, out, "confirmed");
            await page.getByRole("button", { name: "Unsubscribe" }).click();
            await page.waitForLoadState("load");
            out.after = (await page.locator("h1").textContent()).trim();
            expect(/Unsubscribed/.test(out.after), `Unsubscribed, got ${out.after}`);
            await axe(page, out, "unsubscribed");
            await page.screenshot({ path: path.join(shots, "subscription-unsubscribed.png"), fullPage: true });
        }
        console.log(JSON.stringify(out));
    } finally {
        await close();
    }
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
