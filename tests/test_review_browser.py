"""A review page in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright. Checks the groups shown, moves a paper to a new person, reads the generated entry,
downloads the decisions file and feeds it to `export --decisions`; runs axe-core (from npm)
for accessibility; saves a screenshot to tests/artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from test_review import page_data, resolved  # noqa: F401  (the fixture)

from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main

REPOSITORY = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPOSITORY / "tests" / "artifacts"
# Without these, Chromium tries to reach Google's services, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), "needs Debian's chromium (`make install` installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(resolved: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory  # noqa: F811
         ) -> Path:
    anthology, resolution = resolved
    out = tmp_path_factory.mktemp("site") / "review"
    assert main(["-q", "review", "--anthology", str(anthology), "--no-cache",
                 "--resolution", str(resolution), "--out", str(out)]) == 0
    return out


def test_a_curator_moves_a_paper_and_export_applies_the_decision(
        browser: Browser, site: Path, resolved: tuple[Path, Path],  # noqa: F811
        tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200,
                                                                   "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((site / "index.html").as_uri())
    page.fill("#search", "zhang")
    assert page.locator("#names tbody tr:not([hidden])").count() == 1
    page.fill("#search", "nobody-has-this-name")
    assert page.locator("#names tbody tr:not([hidden])").count() == 0
    page.goto((site / "names" / "wei-zhang.html").as_uri())
    data = page_data(site / "names" / "wei-zhang.html")
    groups = page.locator("section.group")
    assert groups.count() == len(data["groups"]) == 2  # type: ignore[arg-type]
    first = groups.nth(0)
    before = first.locator("li.paper").count()
    moved_key = first.locator("li.paper").nth(0).get_attribute("data-mention")
    assert moved_key is not None
    # Tick the first paper with the keyboard, choose "a new person", move.
    first.locator("input.pick").nth(0).focus()
    page.keyboard.press("Space")
    assert page.locator("#selected").inner_text() == "1 paper selected"
    page.select_option("#target", "__new__")
    page.click("#move")
    assert groups.count() == 3
    assert first.locator("li.paper").count() == before - 1
    new_group = groups.nth(2)
    assert new_group.locator(f'li.paper[data-mention="{moved_key}"]').count() == 1
    new_person = new_group.locator(".person").inner_text()
    assert new_person == "wei-zhang-2"
    text = page.input_value("#decision-text")
    paper, role, position = moved_key.split("|")
    assert "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-2" in text
    assert f"{paper} ({role} {int(position) + 1}, Wei Zhang) -> wei-zhang-2" in text
    assert page.inner_text("#decision-status") == "1 mention moved."
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=False)
    with page.expect_download() as download:
        page.click("#download")
    decisions = tmp_path / "decisions.json"
    download.value.save_as(decisions)
    document = json.loads(decisions.read_text())
    assert document["format"] == "anthology-resolve decisions"
    assert errors == []
    context.close()

    anthology, resolution = resolved
    out = tmp_path / "exported"
    assert main(["-q", "export", "--anthology", str(anthology), "--no-cache", "--resolution",
                 str(resolution), "--out", str(out), "--decisions", str(decisions),
                 "--summary", str(tmp_path / "summary.md")]) == 0
    exported = read_snapshot(out)
    person = exported.mentions.set_index(["paper", "role", "position"])["person"]
    assert person[(paper, role, int(position))] == "wei-zhang-2"
    assert "wei-zhang-2" in exported.registry.persons
    # The entry the page showed is the entry export wrote.
    registry = (out / "yaml" / "name_variants.yaml").read_text()
    assert "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-2\n" in registry


@pytest.mark.parametrize("page_path", ["index.html", "names/wei-zhang.html", "variants.html"])
def test_pages_have_no_serious_accessibility_violations(browser: Browser, site: Path,
                                                        page_path: str) -> None:
    assert AXE.is_file(), "needs axe-core from npm (`make install` runs npm ci)"
    page = browser.new_page()
    page.goto((site / page_path).as_uri())
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in violations
               if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.close()


def test_pages_need_no_network(browser: Browser, site: Path) -> None:
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto((site / "names" / "wei-zhang.html").as_uri())
    page.wait_for_load_state("networkidle")
    assert [url for url in requested if not url.startswith("file://")] == []
    page.close()
