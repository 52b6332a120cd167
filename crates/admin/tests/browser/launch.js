// Headless Debian chromium with a fresh profile and no background traffic: on a closed
// network, chromium's own update/sync requests would otherwise show up and stall.
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function launch({ width = 1280, height = 800, bypassCSP = false } = {}) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "downbeat-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: FLAGS,
        viewport: { width, height }, bypassCSP, locale: "en-GB",
    });
    const page = context.pages()[0] || await context.newPage();
    const close = async () => {
        await context.close();
        fs.rmSync(profile, { recursive: true, force: true });
    };
    return { page, context, close };
}

module.exports = { launch, CHROMIUM };
