// The chat page inside the iframe. Every piece of data goes in with textContent, never as markup.
"use strict";

(() => {
  const API = new URL("../../api/", document.currentScript.src);
  const VIEWER = new URL("../policy/", document.currentScript.src);
  const HISTORY_TURNS = 5;
  const params = new URLSearchParams(location.search);
  const policy = params.get("policy") || null;
  const history = [];

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const webLink = (url) => typeof url === "string" && /^https?:\/\//i.test(url);
  const viewerUrl = (id, start, end) => {
    const url = new URL(encodeURIComponent(id), VIEWER);
    if (start !== undefined) {
      url.searchParams.set("start", start);
      url.searchParams.set("end", end);
    }
    return url.href;
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
      throw new Error("Could not reach the server; check your connection and try again.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(data?.error?.message || `The server answered ${response.status}.`);
    return data;
  }

  function applyColour() {
    const colour = params.get("color");
    if (colour && CSS.supports("color", colour)) document.documentElement.style.setProperty("--accent", colour);
  }

  async function showPolicy() {
    if (!policy) return;
    const links = document.getElementById("links");
    try {
      const found = (await call("policies")).find((p) => p.id === policy);
      if (!found) throw new Error(`This widget is set up for the policy "${policy}", which this server does not have.`);
      document.getElementById("title").textContent = `Questions about the ${found.title}`;
      links.append(link(viewerUrl(found.id), "Read the full policy"));
      if (webLink(found.source_url)) links.append(link(found.source_url, "Original page"));
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
      message.append(el(paragraph.startsWith("“") ? "blockquote" : "p", "", paragraph));
    }
    if (!answer.citations.length) return;
    const sources = el("ol", "sources");
    answer.citations.forEach((c, n) => {
      const item = el("li", "", `[${n + 1}] ${c.section || c.title} `);
      item.append(link(viewerUrl(c.policy, c.start, c.end), "Show in policy"));
      sources.append(item);
    });
    message.append(sources);
  }

  async function ask(question) {
    say("user", question);
    const reply = say("bot pending", "Looking it up…");
    try {
      const answer = await call("ask", {question, policy, history: history.slice(-HISTORY_TURNS)});
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
