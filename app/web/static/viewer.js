// The policy viewer: the clean text, with the pieces of the quote a citation points at (source offsets) highlighted.
// Its words come from the labels the server put in the page, in the page's language.
"use strict";

(() => {
  const API = new URL("../../api/", document.currentScript.src);
  const params = new URLSearchParams(location.search);
  const LABELS = JSON.parse(document.getElementById("labels").textContent);
  // A label, its {name} placeholders filled in from `fields`.
  const label = (key, fields = {}) => LABELS[key].replace(/\{(\w+)\}/g, (_, name) => String(fields[name]));

  // A citation's pieces are [start, end) offsets into the source file: each covers sentences of its clause, maybe
  // starting or ending at a gap, which give its span of the clean text.
  function cleanSpans(policy, pieces) {
    const edges = policy.clauses.flatMap((c) => [...c.sentences, ...c.gaps]);
    return pieces.map(([start, end]) => [
      Math.min(...edges.filter((e) => e.start >= start && e.start < end).map((e) => e.clean_start)),
      Math.max(...edges.filter((e) => e.end > start && e.end <= end).map((e) => e.clean_end)),
    ]).filter(([a, b]) => a < b);
  }

  // ?pieces=12-80,95-140 (or one piece as ?start=12&end=140) -> [[12, 80], [95, 140]]
  function pieces() {
    const text = params.get("pieces") || (params.has("start") ? `${params.get("start")}-${params.get("end")}` : "");
    return text.split(",").map((piece) => piece.split("-").map(Number))
      .filter((piece) => piece.length === 2 && piece.every(Number.isInteger));
  }

  function show(policy) {
    document.title = policy.title;
    document.getElementById("title").textContent = policy.title;
    const meta = document.getElementById("meta");
    meta.textContent = [policy.company, policy.version && label("version_of", {version: policy.version}),
                        policy.archived && label("archived", {date: policy.archived})].filter(Boolean).join(" · ");
    if (policy.source_url && /^https?:\/\//i.test(policy.source_url)) {
      const a = document.createElement("a");
      a.href = policy.source_url;
      a.rel = "noopener";
      a.textContent = label("original");
      meta.append(" · ", a);
    }
    const article = document.getElementById("text");
    const spans = cleanSpans(policy, pieces());
    let at = 0;
    spans.forEach(([a, b], n) => {
      const mark = document.createElement("mark");
      mark.textContent = policy.text.slice(a, b);
      article.append(policy.text.slice(at, a));
      if (n) {
        const gap = document.createElement("span");
        gap.className = "gap";
        gap.textContent = "… ";
        gap.title = label("gap");
        article.append(gap);
      }
      article.append(mark);
      at = b;
    });
    article.append(policy.text.slice(at));
    const first = pieces()[0];
    const page = first ? (policy.pages || []).filter((start) => start <= first[0]).length : 0;  // a PDF's page holding the passage
    if (page) meta.append(` · ${label("on_page", {page})}`);
    article.querySelector("mark")?.scrollIntoView({block: "center"});
  }

  async function load() {
    const status = document.getElementById("status");
    try {
      const id = decodeURIComponent(location.pathname.split("/").pop());
      const url = new URL(`policies/${encodeURIComponent(id)}`, API);
      if (params.get("version")) url.searchParams.set("version", params.get("version"));
      const response = await fetch(url).catch(() => { throw new Error(label("offline")); });
      const data = await response.json().catch(() => null);
      if (!response.ok) throw new Error(data?.error?.message || label("status", {status: response.status}));
      show(data);
      status.remove();
    } catch (error) {
      status.textContent = error.message;
      status.className = "error";
    }
  }

  load();
})();
