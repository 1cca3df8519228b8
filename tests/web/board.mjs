// Drives Debian's Chromium (headless, through playwright-core) on Luotsi's queue board for the
// Rust test that owns the service and Redis. One command per stdin line, one answer per line:
//   goto <path>              open the page (e.g. /?lang=sv)
//   depth <team> <n>         wait until the team's tile shows n cases waiting
//   stale <true|false>       wait until the page does / does not say its figures are stale
//   text <words…>            wait until the page shows the words
//   risk <team> <ok|warn|bad> wait until the tile has that deadline-risk colour
//   look <team> <n>          wait until the tile counts n cases past their first-look time
//   row <team> <queue> <attr> <value>  wait until the tile's queue row has data-<attr>=value
//   click <css selector>     click the first element matching
//   cases <n>                wait until the drill-down lists n waiting cases
//   attr <css> <name> <value> wait until the first element matching has the attribute value
//   shot <path>              full-page screenshot
//   quit
// Answers: `ok`, or `fail <what was seen>`.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const base = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const say = (s) => process.stdout.write(s + "\n");
const WAIT = 10000;

async function waitFor(fn, arg, describe) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT, polling: 100 });
    return "ok";
  } catch {
    return "fail " + (await page.evaluate(describe, arg).catch(e => String(e)));
  }
}

say("ready");
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, ...args] = line.trim().split(/\s+/);
  let answer = "ok";
  if (cmd === "goto") {
    await page.goto(base + args[0]);
  } else if (cmd === "depth") {
    answer = await waitFor(([t, n]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.depth === n,
      args, ([t]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.depth ?? "no tile");
  } else if (cmd === "risk") {
    answer = await waitFor(([t, r]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.risk === r,
      args, ([t]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.risk ?? "no tile");
  } else if (cmd === "look") {
    answer = await waitFor(([t, n]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.firstLookOverdue === n,
      args, ([t]) => document.querySelector(`section[data-team="${t}"]`)?.dataset.firstLookOverdue ?? "no tile");
  } else if (cmd === "row") {
    answer = await waitFor(([t, q, a, v]) => document.querySelector(`section[data-team="${t}"] tr[data-queue="${q}"]`)?.getAttribute("data-" + a) === v,
      args, ([t, q, a]) => document.querySelector(`section[data-team="${t}"] tr[data-queue="${q}"]`)?.getAttribute("data-" + a) ?? "no row");
  } else if (cmd === "click") {
    try { await page.click(args.join(" "), { timeout: WAIT }); } catch (e) { answer = "fail " + String(e).slice(0, 200); }
  } else if (cmd === "attr") {
    answer = await waitFor(([css, name, value]) => document.querySelector(css)?.getAttribute(name) === value,
      [args[0].replace(/_/g, " "), args[1], args[2]], ([css, name]) => document.querySelector(css)?.getAttribute(name) ?? "no element");
  } else if (cmd === "cases") {
    answer = await waitFor((n) => document.querySelector("#cases [data-rows]")?.dataset.rows === n,
      args[0], () => document.querySelector("#cases")?.innerText.slice(0, 200) ?? "no list");
  } else if (cmd === "stale") {
    answer = await waitFor((want) => document.body.classList.contains("stale") === (want === "true"),
      args[0], () => "stale=" + document.body.classList.contains("stale"));
  } else if (cmd === "text") {
    answer = await waitFor((w) => document.body.innerText.includes(w), args.join(" "),
      () => document.body.innerText.slice(0, 200));
  } else if (cmd === "shot") {
    await page.screenshot({ path: args[0], fullPage: true });
  } else if (cmd === "quit") {
    break;
  } else {
    answer = "fail unknown command " + cmd;
  }
  say(answer);
}
await browser.close();
process.exit(0);
