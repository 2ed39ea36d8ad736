// The preview page's controls: filter cards by text and tag, count what is
// shown, and switch night mode the way Anki does: the classes `nightMode
// night_mode` on each card's `.card` container, so the deck's CSS applies.
"use strict";
(() => {
  const cards = [...document.querySelectorAll(".preview-card")];
  const sections = [...document.querySelectorAll("section.deck")];
  const cardSides = [...document.querySelectorAll(".card-host")]
    .map((host) => host.shadowRoot?.querySelector(".card")).filter(Boolean);
  const text = document.getElementById("filter-text");
  const tag = document.getElementById("filter-tag");
  const count = document.getElementById("card-count");
  const night = document.getElementById("night-switch");

  const searchable = new Map(cards.map((card) => {
    const sides = [...card.querySelectorAll(".card-host")].map((host) => host.shadowRoot?.textContent ?? "");
    return [card, [...sides, card.dataset.path, card.dataset.tags].join(" ").toLocaleLowerCase()];
  }));

  const plural = (n) => (n === 1 ? "1 card" : `${n} cards`);

  function filter() {
    const words = text.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const wanted = tag.value;
    let shown = 0;
    for (const card of cards) {
      const visible = (!wanted || card.dataset.tags.split(" ").includes(wanted))
        && words.every((word) => searchable.get(card).includes(word));
      card.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    for (const section of sections) {
      section.hidden = !section.querySelector(".preview-card:not([hidden])");
    }
    count.textContent = shown === cards.length ? plural(cards.length) : `${shown} of ${plural(cards.length)}`;
  }

  function setNight(on) {
    document.documentElement.classList.toggle("night", on);
    night.setAttribute("aria-pressed", String(on));
    for (const side of cardSides) {
      for (const name of ["nightMode", "night_mode"]) side.classList.toggle(name, on);
    }
  }

  text.addEventListener("input", filter);
  tag.addEventListener("change", filter);
  night.addEventListener("click", () => setNight(night.getAttribute("aria-pressed") !== "true"));
  document.querySelector(".controls").hidden = false;
  setNight(window.matchMedia("(prefers-color-scheme: dark)").matches);
  filter();
})();
