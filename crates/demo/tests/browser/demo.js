#!/usr/bin/env node
// `downbeat demo` in a real browser: signs in to the admin area before the trouble starts,
// then watches the public service page and the admin dashboard until the service page says
// *problems* with the expected probable cause, a draft incident has appeared for operators,
// and later the page is back to *no problems* with the incident resolved. Screenshots at each
// step. Uses the npm packages of crates/web/tests/browser (NODE_PATH) and its launch.js.
// usage: node demo.js BASE_URL USER PASSWORD SCREENSHOT_DIR CAUSE_REGEX LAUNCH_JS SECONDS
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");

const [base, user, password, shots, causeRe, launchJs, seconds] = process.argv.slice(2);
if (!seconds) {
    console.error("usage: node demo.js BASE_URL USER PASSWORD SCREENSHOT_DIR CAUSE_REGEX LAUNCH_JS SECONDS");
    process.exit(2);
}
const { launch } = require(launchJs);
fs.mkdirSync(shots, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function expect(ok, what) { if (!ok) throw new Error("expected: " + what); }

async function main() {
    const out = {};
    const { page: admin, context, close } = await launch();
    try {
        // Sign in first: at demo speed a draft is a draft for a few seconds only.
        await admin.goto(`${base}/admin/login?next=%2Fadmin%2Fs%2Fmelodia`, { waitUntil: "load" });
        await admin.getByLabel("User name").fill(user);
        await admin.getByLabel("Password").fill(password);
        await admin.getByRole("button", { name: "Sign in" }).click();
        await admin.waitForURL(/\/admin\/s\/melodia$/);
        const pub = await context.newPage();
        const deadline = Date.now() + Number(seconds) * 1000;
        while (Date.now() < deadline && !out.resolved) {
            if (!out.draft) {
                await admin.reload({ waitUntil: "load" });
                const drafts = admin.locator("article.is-draft");
                if (await drafts.count()) {
                    const id = (await drafts.first().getAttribute("aria-labelledby")) || "";
                    out.draft = (await admin.locator(`#${id}`).textContent()).trim();
                    await admin.screenshot({ path: path.join(shots, "demo-admin-draft.png"), fullPage: true });
                }
            }
            await pub.goto(`${base}/s/melodia`, { waitUntil: "load" });
            const classes = ((await pub.locator("#live-verdict").getAttribute("class")) || "").split(/\s+/);
            if (!out.problems && classes.includes("problems")) {
                const diagnosis = await pub.locator("p.diagnosis").allTextContents();
                const causes = await pub.getByText(/^Probable cause:/).allTextContents();
                out.problems = { headline: (await pub.locator("#verdict").textContent()).trim(), diagnosis, causes };
                await pub.screenshot({ path: path.join(shots, "demo-problems.png"), fullPage: true });
            }
            if (out.problems && !out.recovered && classes.includes("no_problems")) {
                out.recovered = (await pub.locator("#verdict").textContent()).trim();
                await pub.screenshot({ path: path.join(shots, "demo-recovered.png"), fullPage: true });
            }
            if (out.recovered) {
                const r = await fetch(`${base}/api/v1/services/melodia/incidents?limit=5`);
                const list = (await r.json()).incidents || [];
                const done = list.find((i) => i.status === "resolved");
                if (done) {
                    out.resolved = { id: done.id, title: done.title, time_to_detect_s: done.time_to_detect_s, time_to_resolve_s: done.time_to_resolve_s };
                    await pub.goto(`${base}/s/melodia/incidents/${done.id}`, { waitUntil: "load" });
                    await pub.screenshot({ path: path.join(shots, "demo-incident.png"), fullPage: true });
                }
            }
            await sleep(200);
        }
        expect(out.draft, "a draft incident in the admin area");
        expect(out.problems, "the service page at problems");
        const said = out.problems.diagnosis.join(" ") + " " + out.problems.causes.join(" ");
        expect(new RegExp(causeRe, "i").test(said), `the probable cause /${causeRe}/ on the page, got: ${said}`);
        expect(out.recovered, "the service page back to no problems");
        expect(out.resolved, "a resolved incident");
        expect(Number.isInteger(out.resolved.time_to_detect_s), "a time to detect on the resolved incident");
        console.log(JSON.stringify(out));
    } finally {
        await close();
    }
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
