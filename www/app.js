// app.js - the demo page: runs an endpoint with each executor and draws its backend calls as a
// waterfall, from the "timing" object fanout-cgi adds for endpoints with expose_timing.
"use strict";

const EXECUTORS = ["serial", "threads", "pool"];
const OUTCOME_CLASS = { ok: "ok", timeout: "timeout", skipped: "skipped", cancelled: "skipped" };

const runs = new Map();	// executor -> { response, article }; the scale is shared by all

function url(executor) {
	const endpoint = document.getElementById("endpoint").value;
	const user = encodeURIComponent(document.getElementById("user").value || "alice");
	if (endpoint === "flaky") {
		const mode = encodeURIComponent(document.getElementById("mode").value);
		return `/api/${executor}/flaky/${user}?mode=${mode}`;
	}
	return `/api/${executor}/page/${user}?city=Zurich`;
}

// The longest total of the runs shown: every waterfall uses it as its full width.
function scaleMs() {
	let max = 1;
	for (const { response } of runs.values())
		if (response && response.timing)
			max = Math.max(max, response.timing.total_ms);
	return max;
}

function bar(call, scale) {
	const row = document.createElement("div");
	row.className = "row";
	const name = document.createElement("span");
	name.className = "name";
	name.textContent = call.name;
	const track = document.createElement("div");
	track.className = "track";
	const b = document.createElement("div");
	b.className = "bar " + (OUTCOME_CLASS[call.outcome] || "failed");
	b.dataset.backend = call.name;
	b.dataset.outcome = call.outcome;
	const start = call.start_ms === null ? 0 : call.start_ms;
	const ms = call.ms === null ? 0 : call.ms;
	const left = 100 * start / scale, width = Math.max(0.5, 100 * ms / scale);
	b.style.left = left + "%";
	b.style.width = width + "%";
	b.title = `${call.name}: ${call.outcome}` + (call.status ? ` (HTTP ${call.status})` : "") +
		(call.ms === null ? "" : `, started at ${start.toFixed(1)} ms, took ${ms.toFixed(1)} ms`);
	// The label goes beside the bar, on whichever side has room.
	const label = document.createElement("span");
	label.className = "label";
	label.textContent = (call.ms === null ? "" : `${ms.toFixed(0)} ms`) +
		(call.outcome === "ok" ? "" : ` ${call.outcome}`);
	if (left + width <= 70)
		label.style.left = `calc(${left + width}% + 0.3rem)`;
	else if (left >= 30)
		label.style.right = `calc(${100 - left}% + 0.3rem)`;
	else {	// no room beside it: inside, in white
		label.style.left = `calc(${left}% + 0.3rem)`;
		label.classList.add("inside");
	}
	track.append(b, label);
	row.append(name, track);
	return row;
}

function draw(executor) {
	const { response, article, error, httpStatus } = runs.get(executor);
	const fall = article.querySelector(".waterfall");
	fall.replaceChildren();
	article.querySelector(".executor").textContent = executor;
	if (error) {
		article.querySelector(".total").textContent = "";
		article.querySelector(".status").textContent = error;
		article.querySelector(".status").classList.add("error");
		return;
	}
	const timing = response.timing;
	article.dataset.totalMs = timing.total_ms;
	article.querySelector(".total").textContent = `${timing.total_ms.toFixed(0)} ms`;
	const failed = (response.errors || []).map((e) => `${e.backend}: ${e.kind}`);
	article.querySelector(".status").textContent = `HTTP ${httpStatus}` +
		(failed.length ? ` · ${failed.join(", ")}` : " · every backend answered");
	const scale = scaleMs();
	for (const call of timing.backends)
		fall.appendChild(bar(call, scale));
	article.querySelector(".json").textContent = JSON.stringify(response, null, 2);
}

function articleFor(executor) {
	const existing = document.querySelector(`.run[data-executor="${executor}"]`);
	if (existing)
		return existing;
	const node = document.getElementById("run-template").content.firstElementChild.cloneNode(true);
	node.dataset.executor = executor;
	// Keep the columns in the order serial, threads, pool, whatever ran first.
	const after = [...document.querySelectorAll(".run")].find((r) =>
		EXECUTORS.indexOf(r.dataset.executor) > EXECUTORS.indexOf(executor));
	document.getElementById("runs").insertBefore(node, after || null);
	return node;
}

async function run(executor) {
	const article = articleFor(executor);
	article.dataset.state = "running";
	article.querySelector(".total").textContent = "…";
	let entry;
	try {
		const reply = await fetch(url(executor), { cache: "no-store" });
		const body = await reply.json();
		entry = body.timing ? { response: body, article, httpStatus: reply.status }
			: { article, error: `HTTP ${reply.status}: ${body.error ? body.error.message : "no timing"}` };
	} catch (e) {
		entry = { article, error: `request failed: ${e.message}` };
	}
	runs.set(executor, entry);
	for (const ex of runs.keys())	// a longer run rescales the others
		draw(ex);
	article.dataset.state = "done";
}

// One at a time, so that the runs do not compete for the backends.
async function runAll(list) {
	const buttons = document.querySelectorAll("button");
	buttons.forEach((b) => { b.disabled = true; });
	document.body.dataset.done = "";
	for (const ex of list)
		await run(ex);
	buttons.forEach((b) => { b.disabled = false; });
	document.body.dataset.done = list.join(",");
}

function reset() {
	runs.clear();
	document.getElementById("runs").replaceChildren();
}

document.getElementById("controls").addEventListener("click", (e) => {
	const which = e.target.dataset && e.target.dataset.run;
	if (!which)
		return;
	runAll(which === "all" ? EXECUTORS : [which]);
});
document.getElementById("endpoint").addEventListener("change", (e) => {
	document.getElementById("mode-label").hidden = e.target.value !== "flaky";
	reset();
});
document.getElementById("mode").addEventListener("change", reset);

// ?run=serial,threads runs those at once (the browser test uses it); ?endpoint=flaky&mode=fail
// pick the endpoint.
const params = new URLSearchParams(location.search);
if (params.get("endpoint")) {
	document.getElementById("endpoint").value = params.get("endpoint");
	document.getElementById("mode-label").hidden = params.get("endpoint") !== "flaky";
}
if (params.get("mode"))
	document.getElementById("mode").value = params.get("mode");
if (params.get("run"))
	runAll(params.get("run").split(",").filter((x) => EXECUTORS.includes(x)));
