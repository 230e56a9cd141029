// Post or update a mailfleet report as pull-request comments, found by their hidden marker.
//
// Used by preview.yml through actions/github-script:
//   const post = require(`${process.env.GITHUB_WORKSPACE}/.github/workflows/pr-comment.cjs`);
//   await post({ github, context, core, dir: process.env.COMMENTS_DIR });
//
// `dir` holds what `mailfleet diff|preview-report --format markdown --output-dir DIR` wrote:
// comments.json (one entry per comment: key, part, parts, marker, file) and one file per comment.
// Each comment body starts with `<!-- <key> part=<i>/<n> -->`. For every key in the manifest this
// lists ALL comments of the pull request (every page, through github.paginate), updates the
// bot's comment for each part that exists (only when the body changed), creates the missing
// parts and deletes the bot's parts that the new report no longer has (a report that shrank,
// or a stack that no longer changes: its manifest entry has parts 0 and no file).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const MARKER = /^<!-- ([A-Za-z0-9_-]+:stack=[A-Za-z0-9._-]+) part=(\d+)\/(\d+) -->/;

module.exports = async function postComments({ github, context, core, dir, botLogin = "github-actions[bot]" }) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "comments.json"), "utf8"));
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number,
    per_page: 100,
  });
  const keys = [...new Set(manifest.map((e) => e.key))];
  const done = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  for (const key of keys) {
    const mine = new Map(); // part -> comment
    const duplicates = [];
    for (const c of comments) {
      if (!c.user || c.user.login !== botLogin) continue;
      const m = MARKER.exec(c.body || "");
      if (!m || m[1] !== key) continue;
      const part = Number(m[2]);
      if (mine.has(part)) duplicates.push(c);
      else mine.set(part, c);
    }
    // An entry without a file (parts 0) is a stack without changes: no comment, and the
    // bot's earlier comments for it are deleted below.
    for (const entry of manifest.filter((e) => e.key === key && e.file)) {
      const body = fs.readFileSync(path.join(dir, entry.file), "utf8");
      if (!body.startsWith(entry.marker)) throw new Error(`${entry.file} does not start with its marker`);
      const found = mine.get(entry.part);
      if (found) {
        mine.delete(entry.part);
        if (found.body === body) {
          done.unchanged += 1;
          continue;
        }
        await github.rest.issues.updateComment({ owner, repo, comment_id: found.id, body });
        done.updated += 1;
      } else {
        await github.rest.issues.createComment({ owner, repo, issue_number, body });
        done.created += 1;
      }
    }
    for (const stale of [...mine.values(), ...duplicates]) {
      await github.rest.issues.deleteComment({ owner, repo, comment_id: stale.id });
      done.deleted += 1;
    }
  }
  core.info(
    `mailfleet comments ${keys.join(", ")}: created=${done.created} updated=${done.updated} ` +
      `unchanged=${done.unchanged} deleted=${done.deleted}`,
  );
  return done;
};
