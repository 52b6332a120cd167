#!/usr/bin/env node
// The Configuration section in a real browser: an admin finds it from the dashboard, makes
// a service, gives it a component, changes it, has a monitor with a bad interval refused (the check's
// words beside the form, what was typed kept), fixes it, opens the file's monitor
// (read-only), adds a webhook destination and asks to remove the monitor. html-validate
// and axe-core on every page, light and dark for the form; screenshots.
// usage: node config.js BASE_URL SCREENSHOT_DIR USER PASSWORD
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect, axe, validate } = require("./launch");

const [base, shots, user, password] = process.argv.slice(2);
if (!password) {
    console.error("usage: node config.js BASE_URL SCREENSHOT_DIR USER PASSWORD");
    process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

async function main() {
    const out = { axe: {} };
    // bypassCSP only so axe-core can be injected; the pages themselves run no script.
    const { page, close } = await launch({ width: 1280, height: 900, bypassCSP: true });
    const check = async (name) => {
        await validate(page, out, name);
        await axe(page, out, name);
    };
    try {
        await page.goto(base + "/admin/login", { waitUntil: "load" });
        await page.getByLabel("User name").fill(user);
        await page.getByLabel("Password").fill(password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(/\/admin$/);
        await check("dashboard");
        await page.getByRole("link", { name: "Configuration" }).click();
        await page.waitForURL(/\/admin\/config$/);
        await check("config");

        // A service, then its component.
        await page.getByRole("link", { name: "New service" }).click();
        await check("new-service");
        await page.getByLabel("Id", { exact: true }).fill("radio");
        await page.getByLabel("Name", { exact: true }).fill("Radio <FM>");
        await page.getByRole("button", { name: "Create" }).click();
        await page.waitForURL(/done=created$/);
        await page.getByRole("link", { name: "Add a component to Radio <FM>" }).click();
        await check("new-component");
        await page.getByLabel("Id", { exact: true }).fill("stream");
        await page.getByLabel("Name", { exact: true }).fill("Streaming");
        await page.getByRole("button", { name: "Create" }).click();
        await page.waitForURL(/done=created$/);

        // The service changed through a field: the advanced text, left as shown (a name
        // with markup in it), does not count as changed.
        await page.getByRole("link", { name: "Radio <FM>", exact: true }).click();
        await check("service");
        await page.getByLabel(/Publish incidents Downbeat drafts at once/).check();
        await page.getByRole("button", { name: "Save changes" }).click();
        await page.waitForURL(/done=changed$/);

        // A monitor with a bad interval: refused beside the form, with what was typed.
        await page.getByRole("link", { name: "New monitor" }).click();
        await page.getByLabel("Id", { exact: true }).fill("radio-tcp");
        await page.getByLabel("Service", { exact: true }).selectOption("radio");
        await page.getByLabel("Component", { exact: true }).fill("stream");
        await page.getByLabel("Kind", { exact: true }).selectOption("tcp");
        await page.getByLabel("Target", { exact: true }).fill("127.0.0.1:9");
        await page.getByLabel("Interval", { exact: true }).fill("1s");
        await page.getByRole("button", { name: "Create" }).click();
        const error = (await page.locator("#form-error").textContent()).trim();
        out.refusal = error;
        expect(/key `interval`/.test(error), `the interval named in the refusal, got ${error}`);
        expect(await page.getByLabel("Target", { exact: true }).inputValue() === "127.0.0.1:9", "the target kept");
        await check("monitor-refused");
        await page.screenshot({ path: path.join(shots, "admin-config-refused.png"), fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await axe(page, out, "monitor-refused-dark");
        await page.emulateMedia({ colorScheme: "light" });
        await page.getByLabel("Interval", { exact: true }).fill("1m");
        await page.getByRole("button", { name: "Create" }).click();
        await page.waitForURL(/done=created$/);

        // The file's monitor: read-only.
        await page.getByRole("link", { name: "from-file" }).click();
        await check("file-monitor");
        expect(await page.locator("form[action='/admin/config/monitors/from-file']").count() === 0, "no form for the file's monitor");
        await page.goto(base + "/admin/config", { waitUntil: "load" });

        // A webhook destination, with its secret in a password input.
        await page.getByRole("link", { name: "New destination" }).click();
        await check("new-destination");
        await page.getByLabel("Channel", { exact: true }).selectOption("webhook");
        await page.getByLabel("Id", { exact: true }).fill("ops");
        await page.getByLabel("URL", { exact: true }).fill("http://127.0.0.1:9/hook/PATHSECRET");
        await page.getByLabel("Signing secret", { exact: true }).fill("sixteen-plus-characters-secret");
        await page.getByRole("button", { name: "Create" }).click();
        await page.waitForURL(/done=created$/);
        await page.getByRole("link", { name: "ops", exact: true }).click();
        await check("destination");
        const html = await page.content();
        expect(!html.includes("PATHSECRET") && !html.includes("sixteen-plus"), "no secret on the destination's page");

        // The list with everything, and a removal's confirmation.
        await page.goto(base + "/admin/config", { waitUntil: "load" });
        await check("config-full");
        await page.screenshot({ path: path.join(shots, "admin-config.png"), fullPage: true });
        await page.getByRole("link", { name: "radio-tcp" }).click();
        await check("monitor");
        await page.screenshot({ path: path.join(shots, "admin-config-monitor.png"), fullPage: true });
        await page.getByRole("link", { name: /Remove this monitor/ }).click();
        await check("remove-monitor");
        await page.getByRole("button", { name: "Remove" }).click();
        await page.waitForURL(/done=removed$/);
    } finally {
        await close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
