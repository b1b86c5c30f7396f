"""Take the README's screenshot: the app answering a question about the seed, its first source in view.

    python scripts/screenshot.py                     # starts the app on the repo's index (built if needed)
    python scripts/screenshot.py --url http://127.0.0.1:7860 --out docs/screenshot.png

Needs Debian's chromium (apt-get install chromium) and the playwright package.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from qa.web.background import serve_in_background

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def take(url: str, out: Path, question: str, *, width: int, height: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="ar", device_scale_factor=1)
            page.goto(url)
            box = page.locator("#qa-question textarea")
            box.fill(question)
            box.press("Enter")
            answer = page.locator(".qa-answer").first
            answer.wait_for(timeout=120_000)
            marker = answer.locator("a.qa-cite").first
            if marker.count():
                marker.click()
                expect(page.locator(f"{marker.get_attribute('href')} .qa-passage mark.qa-hl")).to_be_in_viewport()
            page.mouse.move(0, 0)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--index", default="vectors", help="index for the app started here (default: %(default)s)")
    parser.add_argument("--seeds", default="seeds", help="articles to build it from when missing or stale (default: %(default)s)")
    parser.add_argument("--question", default="متى يزور أولوند موسكو؟")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", default="1400x900", help="viewport WIDTHxHEIGHT (default: %(default)s)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    server = nullcontext(args.url) if args.url else serve_in_background(
        ["--index", str(Path(args.index).resolve()), "--seeds", str(Path(args.seeds).resolve())], cwd=ROOT
    )
    with server as url:
        take(url, args.out, args.question, width=width, height=height)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
