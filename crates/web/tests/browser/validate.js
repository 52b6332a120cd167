#!/usr/bin/env node
// Validates saved HTML pages with html-validate (its recommended rules, minus pure style
// preferences) and prints every problem; exits 1 if any page has an error.
// usage: node validate.js FILE...
const { HtmlValidate } = require("html-validate");

const validator = new HtmlValidate({
    extends: ["html-validate:recommended"],
    rules: {
        // style, not validity: the pages are minified by the template engine
        "no-trailing-whitespace": "off",
        "void-style": "off",
        // a self-closing tag inside inline SVG is valid (foreign content)
        "no-self-closing": "off",
        // the bar widths are the one inline style (allowed by the page's CSP)
        "no-inline-style": "off",
        // curly quotes in prose are deliberate
        "unrecognized-char-ref": "error",
        "attribute-boolean-style": "off",
        // titles carry the operator's service name, whatever its length
        "long-title": "off",
        // a group of checkboxes shares its name (the subscription's components), as HTML
        // forms intend: the server reads every ticked value
        "form-dup-name": ["error", { shared: ["radio", "checkbox", "button", "reset", "submit"] }],
    },
});

async function main() {
    let errors = 0;
    for (const file of process.argv.slice(2)) {
        const report = await validator.validateFile(file);
        for (const r of report.results) {
            for (const m of r.messages) {
                errors += m.severity === 2 ? 1 : 0;
                console.log(`${file}:${m.line}:${m.column} ${m.severity === 2 ? "error" : "warning"} ${m.ruleId}: ${m.message}`);
            }
        }
        if (report.valid) console.log(`${file}: valid`);
    }
    console.log(`${errors} errors`);
    process.exit(errors ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(2); });
