"""The dashboard's overview updates live (check D7 of ../shared/docs/observability.md).

Run by crates/pinpipe/tests/blackbox/dashboard.rs with the suite's venv python (TEST_PYTHON,
which scripts/services/python.sh fills with selenium):

    python dashboard_live.py URL CHROMIUM CHROMEDRIVER

Opens URL (the overview page of a running `pinpipe up --emulate`) in headless Debian Chromium
through Debian's chromedriver, reads the ingest tile's total, and exits 0 as soon as it changes
(within 5 s), printing one JSON line with what it saw; exits 1 otherwise. Also fails when the
browser console has an error.
"""

import json
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

TILE = '.tile[data-stage="ingest"] dd[data-field="{}"]'
WITHIN = 5.0


def main() -> int:
    url, chromium, chromedriver = sys.argv[1:4]
    options = Options()
    options.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="pinpipe-selenium-"),
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        driver.get(url)
        total = driver.find_element(By.CSS_SELECTOR, TILE.format("total"))
        first = total.text
        seen = [first]
        start = time.monotonic()
        changed = None
        while time.monotonic() - start < WITHIN:
            now = total.text
            if now != seen[-1]:
                seen.append(now)
            if now != first:
                changed = time.monotonic() - start
                break
            time.sleep(0.05)
        live = driver.find_element(By.ID, "live").text
        errors = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]
        print(
            json.dumps(
                {
                    "ingest_total": seen,
                    "changed_after_s": None if changed is None else round(changed, 2),
                    "live": live,
                    "console_errors": errors,
                }
            )
        )
        if changed is None:
            print(f"the ingest tile stayed at {first!r} for {WITHIN} s", file=sys.stderr)
            return 1
        if errors:
            print("errors on the browser console", file=sys.stderr)
            return 1
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
