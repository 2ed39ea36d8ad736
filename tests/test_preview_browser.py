"""The preview page in a real browser: Debian's headless Chromium, driven by
Playwright (never `playwright install`). At phone and desktop width, in light
and night mode: no card overflows, images fit, text is readable (WCAG AA),
the source on the back is small and muted yet readable, and nothing comes
from the network. Screenshots go to test-artifacts/preview/ to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, card_text
from deckbuild.preview import write_preview

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
INSTALL_HINT = ("apt-get update && apt-get install -y chromium fonts-liberation fonts-dejavu-core "
                "(the tests drive Debian's chromium; never run `playwright install`)")
ARTIFACTS = REPO / "test-artifacts" / "preview"
VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
AA = 4.5
SHOT_NAMES = {"wide_project": "fixture", "shipped_deck": "shipped"}

# An image far wider than any screen, a long word, a wide table and code:
# what overflows a card on a phone if the CSS lets it.
WIDE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="200">'
            '<rect width="2000" height="200" fill="#0550ae"/></svg>')
WIDE_CARD = card_text("wide-1", """
    Hva viser bildet av Verdikjedeoptimaliseringsprosessgjennomgangen?

    % back
    ![Bredt bilde](bred.svg)

    | kolonne en | kolonne to | kolonne tre | kolonne fire | kolonne fem | kolonne seks |
    |---|---|---|---|---|---|
    | 1 | 2 | 3 | 4 | 5 | 6 |

    % extra
    ```
    en_veldig_lang_kodelinje_uten_mellomrom_som_ikke_kan_brytes_noe_sted_i_det_hele_tatt()
    ```
    """, tags="[bred]")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install 'build-deck[test]'")
    if not CHROMIUM.exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def wide_project(fixture_project: Path) -> Path:
    """The fixture deck with every note type, plus a card made to overflow."""
    (fixture_project / "cards" / "Del 2" / "wide.md").write_text(WIDE_CARD, encoding="utf-8")
    (fixture_project / "media" / "bred.svg").write_text(WIDE_SVG, encoding="utf-8")
    return fixture_project


def open_preview(browser, root: Path, viewport: str, night: bool):
    """The page as a reader sees it, failing on any request off this machine
    and on any script error."""
    page_path, _ = write_preview(root)
    page = browser.new_page(viewport=VIEWPORTS[viewport], color_scheme="light")
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (errors.append(f"network request: {route.request.url}"), route.abort()))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    if night:
        page.click("#night-switch")
    return page, errors


# Measured in the page: every card side's `.card` (inside its shadow root),
# every image in it, and every visible text node against the background it
# is painted on (walking up through shadow hosts).
MEASURE = """() => {
  const parse = (css) => {
    const m = css.match(/^rgba?\\(([\\d.]+),\\s*([\\d.]+),\\s*([\\d.]+)(?:,\\s*([\\d.]+))?\\)$/);
    if (!m) throw new Error("unexpected color " + css);
    return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3])).concat(1);
  const up = (el) => el.parentElement || (el.getRootNode().host ?? null);
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = up(node)) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color[3] > 0) layers.push(color);
      if (color[3] === 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), [255, 255, 255, 1]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (el) => {
    const bg = background(el);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  };
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const textElements = (root) => {
    const found = new Set();
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const el = walker.currentNode.parentElement;
      if (walker.currentNode.textContent.trim() && el && visible(el)) found.add(el);
    }
    return [...found];
  };
  const hosts = [...document.querySelectorAll(".card-host")];
  const roots = [document, ...hosts.map((h) => h.shadowRoot)];
  const cards = hosts.map((h) => h.shadowRoot.querySelector(".card"));
  const scroller = document.scrollingElement;
  const label = (el) => (el.textContent || el.getAttribute("src") || el.tagName).trim().slice(0, 60);
  return {
    cards: cards.length,
    nightCards: cards.filter((c) => c.matches(".nightMode.night_mode")).length,
    pageOverflow: scroller.scrollWidth > scroller.clientWidth,
    overflowing: cards.filter((c) => c.scrollWidth > c.clientWidth).map(label),
    images: cards.flatMap((card) => [...card.querySelectorAll("img, svg, video")].map((img) => {
      const [inner, outer] = [img.getBoundingClientRect(), card.getBoundingClientRect()];
      return {src: label(img), loaded: img.tagName !== "IMG" || img.naturalWidth > 0,
              fits: inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5 && inner.width > 0};
    })),
    lowContrast: roots.flatMap(textElements)
      .map((el) => ({text: label(el), ratio: contrast(el)}))
      .filter((t) => t.ratio < 4.5),
    sources: cards.flatMap((card) => [...card.querySelectorAll(".source")].map((source) => ({
      size: parseFloat(getComputedStyle(source).fontSize),
      cardSize: parseFloat(getComputedStyle(card).fontSize),
      ratio: contrast(source),
      textRatio: contrast(card.querySelector(".prompt")),
    }))),
  };
}"""


@pytest.mark.parametrize("night", [False, True], ids=["light", "night"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("deck", ["wide_project", "shipped_deck"])
def test_every_card_fits_and_reads_well(browser, request, deck, viewport, night):
    page, errors = open_preview(browser, request.getfixturevalue(deck), viewport, night)
    shot = f"{SHOT_NAMES[deck]}-{viewport}-{'night' if night else 'light'}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{shot}.png")
    for kind in ("Cloze", "Type-in", "Basic and reversed"):
        page.locator("article.preview-card", has_text=kind).first.screenshot(
            path=ARTIFACTS / f"{shot}-{kind.split()[0].lower()}.png")
    page.locator("article.preview-card", has=page.locator("img[src$='.svg']")).first.screenshot(
        path=ARTIFACTS / f"{shot}-image.png")
    measured = page.evaluate(MEASURE)
    page.close()

    assert errors == []
    assert measured["cards"] > 0
    assert measured["nightCards"] == (measured["cards"] if night else 0)
    assert not measured["pageOverflow"]
    assert measured["overflowing"] == []
    assert measured["images"] and all(i["loaded"] and i["fits"] for i in measured["images"]), \
        measured["images"]
    assert measured["lowContrast"] == []
    assert measured["sources"]
    for source in measured["sources"]:
        assert source["size"] <= 0.8 * source["cardSize"]  # small
        assert AA <= source["ratio"] < source["textRatio"]  # muted, yet readable


def test_filter_by_text_and_tag_and_count(browser, fixture_project):
    page, errors = open_preview(browser, fixture_project, "phone", night=False)
    count = page.locator("#card-count")
    assert count.inner_text() == "6 cards"

    page.fill("#filter-text", "sosialt")  # text on the back of the reversed note
    assert count.inner_text() == "2 of 6 cards"
    assert page.locator("section.deck:visible h2").all_inner_texts() == ["Del 1"]

    page.fill("#filter-text", "")
    page.select_option("#filter-tag", "verdi")
    assert count.inner_text() == "1 of 6 cards"
    assert page.locator("article.preview-card:visible .card-meta").inner_text().startswith("Basic (build-deck)")
    page.close()
    assert errors == []


def test_night_switch_uses_ankis_classes_and_the_deck_css(browser, fixture_project):
    page, errors = open_preview(browser, fixture_project, "desktop", night=False)
    card = page.locator(".card-host").first.locator(".card")
    light = card.evaluate("c => getComputedStyle(c).backgroundColor")

    page.click("#night-switch")
    assert card.get_attribute("class") == "card card1 nightMode night_mode"
    assert card.evaluate("c => getComputedStyle(c).backgroundColor") != light
    assert page.locator("#night-switch").get_attribute("aria-pressed") == "true"

    page.click("#night-switch")
    assert card.get_attribute("class") == "card card1"
    page.close()
    assert errors == []
