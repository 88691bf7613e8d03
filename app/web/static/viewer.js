// The policy viewer: the clean text, with the passage a citation points at (source offsets) highlighted.
"use strict";

(() => {
  const API = new URL("../../api/", document.currentScript.src);
  const params = new URLSearchParams(location.search);

  // Citations give offsets into the source file; the sentences they cover give the clean-text span.
  function cleanSpan(policy, start, end) {
    const covered = policy.clauses.flatMap((c) => c.sentences).filter((s) => s.start >= start && s.end <= end);
    if (!covered.length) return null;
    return [Math.min(...covered.map((s) => s.clean_start)), Math.max(...covered.map((s) => s.clean_end))];
  }

  function show(policy) {
    document.title = policy.title;
    document.getElementById("title").textContent = policy.title;
    const meta = document.getElementById("meta");
    meta.textContent = [policy.company, policy.version && `version of ${policy.version}`,
                        policy.archived && `archived ${policy.archived}`].filter(Boolean).join(" · ");
    if (policy.source_url && /^https?:\/\//i.test(policy.source_url)) {
      const a = document.createElement("a");
      a.href = policy.source_url;
      a.rel = "noopener";
      a.textContent = "Original page";
      meta.append(" · ", a);
    }
    const article = document.getElementById("text");
    const start = Number(params.get("start"));
    const span = cleanSpan(policy, start, Number(params.get("end")));
    if (!params.has("start") || !span) {
      article.textContent = policy.text;
      return;
    }
    const page = (policy.pages || []).filter((first) => first <= start).length;  // a PDF's page holding the passage
    if (page) meta.append(` · the passage is on page ${page}`);
    const mark = document.createElement("mark");
    mark.textContent = policy.text.slice(span[0], span[1]);
    article.append(policy.text.slice(0, span[0]), mark, policy.text.slice(span[1]));
    mark.scrollIntoView({block: "center"});
  }

  async function load() {
    const status = document.getElementById("status");
    try {
      const id = decodeURIComponent(location.pathname.split("/").pop());
      const url = new URL(`policies/${encodeURIComponent(id)}`, API);
      if (params.get("version")) url.searchParams.set("version", params.get("version"));
      const response = await fetch(url);
      const data = await response.json().catch(() => null);
      if (!response.ok) throw new Error(data?.error?.message || `The server answered ${response.status}.`);
      show(data);
      status.remove();
    } catch (error) {
      status.textContent = error.message;
      status.className = "error";
    }
  }

  load();
})();
