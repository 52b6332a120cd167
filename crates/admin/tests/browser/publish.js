#!/usr/bin/env node
// The admin area in a real browser: an editor signs in with the keyboard-reachable form,
// reads a draft's evidence, publishes it in one click, and the incident appears on the
// public page. axe-core on every admin page seen; screenshots light, dark and phone-sized.
// usage: node publish.js BASE_URL SCREENSHOT_DIR USER PASSWORD INCIDENT_ID TITLE
// Prints one JSON line of findings; exits 1 on the first failed expectation.
const fs = require("fs");
const path = require("path");
const { launch, expect, axe } = require("./launch");

const [base, shots, user, password, id, title] = process.argv.slice(2);
if (!title) {
    console.error("usage: node publish.js BASE_URL SCREENSHOT_DIR USER PASSWORD INCIDENT_ID TITLE");
    process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

async function main() {
    const out = { axe: {} };
    // bypassCSP only so axe-core can be injected; the pages themselves run no script.
    const desk = await launch({ width: 1280, height: 800, bypassCSP: true });
    try {
        const { page, context } = desk;
        const offMachine = [];
        context.on("request", (r) => {
            if (/^https?:/.test(r.url()) && !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(r.url())) offMachine.push(r.url());
        });

        // Not signed in: the dashboard sends us to the sign-in page.
        await page.goto(base + "/admin/s/melodia", { waitUntil: "load" });
        expect(page.url().includes("/admin/login?next="), `a redirect to the sign-in page, got ${page.url()}`);
        await page.keyboard.press("Tab");
        expect(await page.evaluate(() => document.activeElement?.className === "skip"), "the skip link first");
        await axe(page, out, "login");
        await page.screenshot({ path: path.join(shots, "admin-login.png"), fullPage: true });

        // A wrong password first: the error is shown and the form stays usable.
        await page.getByLabel("User name").fill(user);
        await page.getByLabel("Password").fill("not the password");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForSelector("p.error[role=alert]");
        out.loginError = (await page.locator("p.error").textContent()).trim();

        await page.getByLabel("User name").fill(user);
        await page.getByLabel("Password").fill(password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(/\/admin\/s\/melodia$/);
        const cookies = await context.cookies();
        const session = cookies.find((c) => c.name === "downbeat-session");
        expect(session && session.httpOnly && session.sameSite === "Strict", `an HttpOnly SameSite=Strict session cookie: ${JSON.stringify(cookies)}`);
        expect(!(await page.evaluate(() => document.cookie)).includes("downbeat-session"), "the session cookie hidden from scripts");

        // The draft with its evidence, readable.
        await page.getByRole("heading", { name: "Drafts awaiting review" }).waitFor();
        const draft = page.locator("article", { has: page.getByRole("heading", { name: title }) });
        expect(await draft.count() === 1, "the draft on the dashboard");
        const text = await draft.textContent();
        for (const seen of ["Crowd: Problems", "Probes by region", "TLS certificate", "Diagnosis", "ready to resolve"]) {
            expect(text.includes(seen), `${seen} in the draft's evidence`);
        }
        await axe(page, out, "dashboard");
        await page.screenshot({ path: path.join(shots, "admin-dashboard.png"), fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await page.screenshot({ path: path.join(shots, "admin-dashboard-dark.png"), fullPage: true });
        await page.emulateMedia({ colorScheme: "light" });

        // One click publishes it.
        await draft.getByRole("button", { name: `Publish “${title}”` }).click();
        await page.waitForURL(new RegExp(`/admin/incidents/${id}\\?done=published$`));
        out.notice = (await page.locator("p.notice").textContent()).trim();
        expect(/Published/.test(out.notice), `a confirmation, got ${out.notice}`);
        expect(await page.getByText("Draft — visible to operators only").count() === 0, "no longer a draft");
        await axe(page, out, "incident");
        await page.screenshot({ path: path.join(shots, "admin-incident.png"), fullPage: true });

        // The public page shows it (its pages refresh in the background within a second).
        let status = 0;
        for (let i = 0; i < 40; i++) {
            const r = await page.goto(`${base}/s/melodia/incidents/${id}`, { waitUntil: "load" });
            status = r.status();
            if (status === 200) break;
            await page.waitForTimeout(250);
        }
        expect(status === 200, `the public incident page, got ${status}`);
        const h1 = (await page.locator("h1").textContent()).trim();
        expect(h1 === title, `the title on the public page, got ${h1}`);
        await page.screenshot({ path: path.join(shots, "admin-published-public.png"), fullPage: true });
        out.publicTitle = h1;
        expect(offMachine.length === 0, `nothing fetched off the machine: ${offMachine}`);
    } finally {
        await desk.close();
    }

    // A phone: the incident page signs in again (fresh profile) and does not scroll sideways.
    const phone = await launch({ width: 390, height: 844 });
    try {
        const { page } = phone;
        await page.goto(`${base}/admin/login?next=%2Fadmin%2Fincidents%2F${id}`, { waitUntil: "load" });
        await page.getByLabel("User name").fill(user);
        await page.getByLabel("Password").fill(password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(new RegExp(`/admin/incidents/${id}$`));
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(wide <= 390, `no sideways scrolling on a phone (page is ${wide}px wide)`);
        await page.screenshot({ path: path.join(shots, "admin-incident-phone.png"), fullPage: true });
    } finally {
        await phone.close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
