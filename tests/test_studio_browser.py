"""The studio as a person uses it, in Debian's chromium driven by Selenium (chromium-driver):
open the URL the studio prints, see the gallery, open a photo, paint a dab with the pointer, see
the preview change, save; the hint file and the output exist and equal `run --hints`; reopening
the photo shows the dab again. Skipped where chromium, its driver or Selenium is missing (`.ci/run`
installs them)."""

import shutil
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from tests.conftest import random_rgb

webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")
BROWSER = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
               None)
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.skipif(BROWSER is None or DRIVER is None, reason="no chromium with its chromedriver"),
              pytest.mark.slow]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,900"]


@pytest.fixture
def studio_url(tmp_path):
    from colorbatch.api import Colorizer
    from colorbatch.batch.jobs import RunOptions
    from colorbatch.studio.app import create_app
    from colorbatch.studio.catalog import Catalog

    rng = np.random.default_rng(8)
    for name in ("a.png", "sub/b.png", "c.png"):
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, 150, 200))).save(path)
    (tmp_path / "hints").mkdir()
    catalog = Catalog(Colorizer(device="cpu"), tmp_path / "in", tmp_path / "out", RunOptions(hints=tmp_path / "hints"))
    server = uvicorn.Server(uvicorn.Config(create_app(catalog, token="t0ken"), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/?token=t0ken"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def _wait(driver, condition, seconds: float = 30):
    """``condition(driver)`` once true; a gallery re-rendered under it (stale elements) is asked again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _open(driver, path: str) -> None:
    from selenium.webdriver.common.by import By

    tile = _wait(driver, lambda d: next((t for t in d.find_elements(By.CSS_SELECTOR, ".tile")
                                         if t.find_element(By.CSS_SELECTOR, ".path").text == path), None))
    tile.click()
    _wait(driver, lambda d: d.find_element(By.ID, "preview").get_attribute("data-version"))


def test_paint_a_dab_see_it_save_it_and_find_it_again(tmp_path, studio_url, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(studio_url)
    tiles = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".tile") if len(
        d.find_elements(By.CSS_SELECTOR, ".tile")) == 3 else None)
    assert {t.find_element(By.CSS_SELECTOR, ".state").text for t in tiles} == {"not coloured"}
    _open(browser, "sub/b.png")
    assert not browser.find_element(By.ID, "gallery").is_displayed()  # the editor has the page to itself
    preview = browser.find_element(By.ID, "preview")
    before = preview.get_attribute("data-version")
    layer = browser.find_element(By.ID, "layer")
    ActionChains(browser).move_to_element_with_offset(layer, -30, -20).click_and_hold().move_by_offset(20, 0) \
        .move_by_offset(0, 10).release().perform()
    _wait(browser, lambda d: d.find_element(By.ID, "preview").get_attribute("data-version") != before)
    painted = browser.execute_script(
        "const c = document.getElementById('layer'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 127; return n;")
    assert painted > 50
    browser.find_element(By.ID, "save").click()
    _wait(browser, lambda d: d.find_element(By.ID, "status").text.startswith("saved"))
    hint = tmp_path / "hints" / "sub" / "b.png"
    assert hint.is_file() and Image.open(hint).size == (200, 150)
    red = np.asarray(Image.open(tmp_path / "out" / "sub" / "b.png").convert("RGB")).astype(int)
    alpha = np.asarray(Image.open(hint))[..., 3] >= 128
    assert alpha.sum() > 50 and (red[alpha, 0] - red[alpha, 2]).mean() > 40  # the dab's red, in the output
    again = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out2"), "--hints",
                                     str(tmp_path / "hints"), "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "out" / "sub" / "b.png").read_bytes() == (tmp_path / "out2" / "sub" / "b.png").read_bytes()
    browser.find_element(By.ID, "back").click()
    _wait(browser, lambda d: {t.find_element(By.CSS_SELECTOR, ".path").text: t.find_element(By.CSS_SELECTOR, ".state")
                              .text for t in d.find_elements(By.CSS_SELECTOR, ".tile")}.get("sub/b.png") == "steered")
    _open(browser, "sub/b.png")  # reopened: the saved dab is an editable layer again
    reloaded = browser.execute_script(
        "const c = document.getElementById('layer'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 127; return n;")
    assert reloaded > 50


def test_a_dab_not_saved_is_kept_when_the_tab_closes(tmp_path, studio_url, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(studio_url)
    _open(browser, "a.png")
    before = browser.find_element(By.ID, "preview").get_attribute("data-version")
    ActionChains(browser).move_to_element_with_offset(browser.find_element(By.ID, "layer"), 10, 10).click_and_hold() \
        .move_by_offset(15, 5).release().perform()
    _wait(browser, lambda d: d.find_element(By.ID, "preview").get_attribute("data-version") != before)
    browser.get(studio_url)  # the tab reloaded (closed and opened again), nothing saved
    _open(browser, "a.png")
    _wait(browser, lambda d: "draft" in d.find_element(By.ID, "status").text)
    assert browser.execute_script(
        "const c = document.getElementById('layer'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 127; return n;") > 50
    assert not (tmp_path / "hints" / "a.png").exists()  # a draft, not a saved hint file
