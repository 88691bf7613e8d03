// The embed snippet's script:
//   <script src="https://POLICYQA-HOST/embed.js" data-policy="leje" data-color="#0b5" async></script>
// adds a floating button that opens the PolicyQA widget in an iframe. Optional attributes:
// data-lang (the widget's language: en, ko, ja, zh, es, de, fr, pt or it; default en), data-text-color (button text),
// data-label (button text), data-position ("left" or "right").
// Its words come from /api/labels in that language (English, with a console warning, for one it does not speak);
// when they cannot be fetched at all, no button is shown.
"use strict";

(() => {
  const script = document.currentScript;
  if (!script) return;
  const options = script.dataset;
  const colour = (value, fallback) => (value && CSS.supports("color", value) ? value : fallback);
  const accent = colour(options.color, "#1a5fb4");
  const side = options.position === "left" ? "left" : "right";

  async function fetchLabels(lang) {
    const url = new URL("api/labels", script.src);
    url.searchParams.set("lang", lang);
    const response = await fetch(url);
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(data?.error?.message || `the server answered ${response.status}`);
    return data;
  }

  function show({lang, labels}) {
    const label = options.label || labels.button;
    const widgetUrl = new URL("widget", script.src);
    if (options.policy) widgetUrl.searchParams.set("policy", options.policy);
    widgetUrl.searchParams.set("color", accent);
    widgetUrl.searchParams.set("lang", lang);

    // A shadow root keeps the page's CSS off the button; styles are set through the CSSOM so a
    // page whose Content-Security-Policy forbids inline styles still shows them.
    const host = document.createElement("div");
    const root = host.attachShadow({mode: "open"});
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    Object.assign(button.style, {
      position: "fixed", bottom: "20px", [side]: "20px", zIndex: "2147483647", padding: "12px 18px",
      border: "0", borderRadius: "24px", background: accent, color: colour(options.textColor, "#fff"),
      font: "600 15px system-ui, sans-serif", boxShadow: "0 4px 14px rgba(0,0,0,.25)", cursor: "pointer",
    });
    root.append(button);

    let frame = null;
    function makeFrame() {
      frame = document.createElement("iframe");
      frame.src = widgetUrl.href;
      frame.title = labels.title;
      frame.id = "policyqa-widget";
      button.setAttribute("aria-controls", frame.id);
      Object.assign(frame.style, {
        position: "fixed", bottom: "78px", [side]: "20px", zIndex: "2147483647",
        width: "min(380px, calc(100vw - 40px))", height: "min(560px, calc(100vh - 110px))",
        border: "0", borderRadius: "12px", boxShadow: "0 8px 28px rgba(0,0,0,.3)", background: "#fff",
      });
      root.append(frame);
    }

    function toggle(open) {
      if (open && !frame) makeFrame();  // the widget loads only when first opened
      if (frame) frame.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? labels.close : label;
    }

    button.addEventListener("click", () => toggle(button.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        toggle(false);
        button.focus();
      }
    });
    document.body.append(host);
  }

  // A language the server does not speak shows the widget in English, with one warning; without any labels the
  // widget could not work either (the same server answers both): no button, one warning.
  const lang = options.lang || "en";
  fetchLabels(lang)
    .catch((error) => {
      if (lang === "en") throw error;
      console.warn(`PolicyQA: data-lang="${lang}": ${error.message} The widget shows English.`);
      return fetchLabels("en");
    })
    .then(show, (error) => console.warn(`PolicyQA: no widget button; its labels did not load: ${error.message}`));
})();
