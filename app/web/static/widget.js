// The chat page inside the iframe. Every piece of data goes in with textContent, never as markup; every word it
// shows comes from the labels the server put in the page, in the page's language (<html lang>).
"use strict";

(() => {
  const API = new URL("../../api/", document.currentScript.src);
  const VIEWER = new URL("../policy/", document.currentScript.src);
  const HISTORY_TURNS = 5;
  const SVG = "http://www.w3.org/2000/svg";
  const THUMB = "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6V3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 " +
                "9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";  // the chat UI's thumb
  const params = new URLSearchParams(location.search);
  const policy = params.get("policy") || null;
  const lang = document.documentElement.lang;
  const LABELS = JSON.parse(document.getElementById("labels").textContent);
  // A label, its {name} placeholders filled in from `fields`.
  const label = (key, fields = {}) => LABELS[key].replace(/\{(\w+)\}/g, (_, name) => String(fields[name]));
  const history = [];

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const webLink = (url) => typeof url === "string" && /^https?:\/\//i.test(url);
  // The viewer of a policy; given a citation's pieces ([start, end) source offsets), it highlights them.
  const viewerUrl = (id, pieces, version) => {
    const url = new URL(encodeURIComponent(id), VIEWER);
    url.searchParams.set("lang", lang);
    if (pieces) url.searchParams.set("pieces", pieces.map(([start, end]) => `${start}-${end}`).join(","));
    if (version) url.searchParams.set("version", version);
    return url.href;
  };
  const GAP = " … ";  // where a quote leaves out words of the policy
  // A quote, its gap marks shown as such.
  const quotation = (text) => {
    const block = el("blockquote");
    text.split(GAP).forEach((piece, n) => {
      if (n) {
        const gap = el("span", "gap", "…");
        gap.title = label("gap");
        block.append(" ", gap, " ");
      }
      block.append(piece);
    });
    return block;
  };
  const link = (href, text) => {
    const a = el("a", "", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  };

  async function call(path, body) {
    const options = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(new URL(path, API), options);
    } catch {
      throw new Error(label("offline"));
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(data?.error?.message || label("status", {status: response.status}));
    return data;
  }

  function applyColour() {
    const colour = params.get("color");
    if (colour && CSS.supports("color", colour)) document.documentElement.style.setProperty("--accent", colour);
  }

  // The versions to answer from, when the policy (or, without one, any policy) has more than one.
  function showVersions(policies) {
    const dates = policies.filter((p) => (!policy || p.id === policy) && p.versions.length > 1).flatMap((p) => p.versions);
    const select = document.getElementById("version");
    for (const date of [...new Set(dates)].sort().reverse()) {
      const option = el("option", "", label("in_force", {date}));
      option.value = date;
      select.append(option);
    }
    document.getElementById("version-choice").hidden = dates.length === 0;
  }

  async function showPolicy() {
    const links = document.getElementById("links");
    try {
      const policies = await call("policies");
      showVersions(policies);
      if (!policy) return;
      const found = policies.find((p) => p.id === policy);
      if (!found) throw new Error(label("no_policy", {policy}));
      document.getElementById("title").textContent = label("title_policy", {title: found.title});
      links.append(link(viewerUrl(found.id), label("read_policy")));
      if (webLink(found.source_url)) links.append(link(found.source_url, label("original")));
    } catch (error) {
      say("error", error.message);
      document.getElementById("question").disabled = true;
      document.getElementById("send").disabled = true;
    }
  }

  function say(kind, text) {
    const message = el("div", `message ${kind}`);
    if (text !== undefined) message.append(el("p", "", text));
    const log = document.getElementById("log");
    log.append(message);
    message.scrollIntoView({block: "end"});
    return message;
  }

  function render(message, answer) {
    message.replaceChildren();
    for (const paragraph of answer.answer.split("\n\n")) {
      message.append(paragraph.startsWith("“") ? quotation(paragraph) : el("p", "", paragraph));
    }
    if (answer.citations.length) message.append(sources(answer.citations));
    if (answer.ask_id) message.append(rating(answer.ask_id));
  }

  function sources(citations) {
    const list = el("ol", "sources");
    citations.forEach((c, n) => {
      const item = el("li", "", `[${n + 1}] ${c.section || c.title} `);
      if (c.page) item.append(el("span", "page", `${label("page", {page: c.page})} `));
      if (c.version) item.append(el("span", "version", `${label("version", {version: c.version})} `));
      item.append(link(viewerUrl(c.policy, c.pieces, c.version), label("show")));
      if (c.probability != null) {
        item.append(el("span", "likelihood", label("likelihood", {p: likelihood(c.probability)})));
      }
      list.append(item);
    });
    return list;
  }

  // The fitted probability that the clause answers, as people read it (the CLI and the chat say the same).
  function likelihood(p) {
    return p >= 0.005 ? `${Math.round(p * 100)}%` : "<1%";
  }

  function thumbIcon() {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", THUMB);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  // Thumbs up/down, sent to /api/feedback with the answer's ask_id; one rating per answer.
  function rating(askId) {
    const row = el("div", "rate");
    const note = el("span", "rate-note");
    const thumbs = [["up", "helpful"], ["down", "not_helpful"]].map(([value, key]) => {
      const thumb = el("button", `thumb ${value}`);
      thumb.type = "button";
      thumb.append(thumbIcon(), label(key));
      thumb.addEventListener("click", async () => {
        thumbs.forEach((t) => { t.disabled = true; });
        try {
          await call("feedback", {ask_id: askId, rating: value});
          thumb.setAttribute("aria-pressed", "true");
          note.textContent = label("thanks");
        } catch (error) {
          note.textContent = error.message;
          thumbs.forEach((t) => { t.disabled = false; });
        }
        note.scrollIntoView({block: "nearest"});
      });
      return thumb;
    });
    row.append(...thumbs, note);
    return row;
  }

  async function ask(question) {
    say("user", question);
    const reply = say("bot pending", label("looking"));
    try {
      const asOf = document.getElementById("version").value || null;
      // No lang: the answer's words follow the question's language, whatever the labels' language is.
      const answer = await call("ask", {question, policy, as_of: asOf, history: history.slice(-HISTORY_TURNS)});
      render(reply, answer);
      history.push({question: answer.question, policy: answer.policy});
    } catch (error) {
      reply.replaceChildren(el("p", "", error.message));
      reply.classList.add("error");
    } finally {
      reply.classList.remove("pending");
      reply.scrollIntoView({block: "end"});
    }
  }

  function wireForm() {
    const form = document.getElementById("ask");
    const input = document.getElementById("question");
    const send = document.getElementById("send");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const question = input.value.trim();
      if (!question) return;
      input.value = "";
      send.disabled = true;
      await ask(question);
      send.disabled = false;
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.focus();
  }

  applyColour();
  wireForm();
  showPolicy();
})();
