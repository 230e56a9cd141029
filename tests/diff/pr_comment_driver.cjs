// Runs .github/workflows/pr-comment.cjs against a fake GitHub API that serves the comments of
// a pull request in pages of `per_page`, like the REST API, and records every write.
// Usage: node pr_comment_driver.cjs SCRIPT STATE.json DIR   (prints {"calls", "pages"} as JSON)
"use strict";
const fs = require("node:fs");

async function main() {
  const [script, statePath, dir] = process.argv.slice(2);
  const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
  const calls = [];
  const pages = [];
  const listComments = async ({ per_page = 30, page = 1, issue_number }) => {
    pages.push(page);
    if (issue_number !== state.issue_number) throw new Error(`wrong issue ${issue_number}`);
    return { data: state.comments.slice((page - 1) * per_page, page * per_page) };
  };
  const github = {
    rest: {
      issues: {
        listComments,
        createComment: async ({ issue_number, body }) => calls.push({ op: "create", issue_number, body }),
        updateComment: async ({ comment_id, body }) => calls.push({ op: "update", comment_id, body }),
        deleteComment: async ({ comment_id }) => calls.push({ op: "delete", comment_id }),
      },
    },
    // Octokit's paginate: follow pages until one comes back short.
    paginate: async (method, params) => {
      const out = [];
      for (let page = 1; ; page += 1) {
        const { data } = await method({ ...params, page });
        out.push(...data);
        if (data.length < (params.per_page || 30)) return out;
      }
    },
  };
  const context = { repo: { owner: "acme", repo: "infra" }, issue: { number: state.issue_number } };
  const core = { info: (msg) => calls.push({ op: "info", msg }) };
  const post = require(script);
  const done = await post({ github, context, core, dir });
  console.log(JSON.stringify({ calls, pages, done }));
}

main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(2);
});
