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

// Throws unless `ok`: the scripts' one way to fail an expectation.
function expect(ok, what) { if (!ok) throw new Error("expected: " + what); }

// Runs axe-core on the page, keeps its findings under `out.axe[name]`, and fails on any
// serious or critical violation.
async function axe(page, out, name) {
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    out.axe[name] = r.violations.map((v) => `${v.impact} ${v.id} (${v.nodes.length})`);
    const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.length === 0, `no serious or critical axe violations on ${name}: ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
}

module.exports = { launch, CHROMIUM, expect, axe };
