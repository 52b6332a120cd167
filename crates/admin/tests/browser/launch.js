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

// html-validate's recommended rules, minus pure style preferences (as the public pages'
// check, crates/web/tests/browser/validate.js), on the page as the browser holds it — call
// it before `axe`, which adds a script: fails on any error.
let validator;
async function validate(page, out, name) {
    if (!validator) {
        const { HtmlValidate } = require("html-validate");
        validator = new HtmlValidate({
            extends: ["html-validate:recommended"],
            rules: {
                "no-trailing-whitespace": "off",
                "void-style": "off",
                "attribute-boolean-style": "off",
                // titles carry operators' names, whatever their length
                "long-title": "off",
            },
        });
    }
    const html = await page.content();
    const report = await validator.validateString(html, name + ".html");
    const problems = report.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`));
    out.html = out.html || {};
    out.html[name] = problems.length ? problems : "valid";
    expect(report.valid, `valid HTML on ${name}: ${JSON.stringify(problems)}`);
}

module.exports = { launch, CHROMIUM, expect, axe, validate };
