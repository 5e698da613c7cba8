"""Print the path of the Chromium that Playwright installed (`playwright install chromium`),
for NODEBOOK_CHROMIUM in the GitHub workflows; Debian machines use /usr/bin/chromium."""

from playwright.sync_api import sync_playwright

with sync_playwright() as playwright:
    print(playwright.chromium.executable_path)
