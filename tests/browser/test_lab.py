"""The README's first command, used as a user would: in a real browser.

Starts `scripts/notebooks --port N --root tests/browser` (set-up checks, the
warm-up only when the kernel slot is not warm, then JupyterLab), waits for the
URL it prints, opens `plot_in_lab.ipynb` in a headless Chromium driven by
Selenium, runs all cells from JupyterLab's Run menu and waits until the figure
of the last cell is on the page as an <img> in the output area. The page is
saved as a screenshot (.evcxr/test-logs/browser-lab.png, also on failure),
then JupyterLab is stopped with SIGTERM to its process group and the test
checks that nothing it started is still running.

Needs Debian's chromium and chromium-driver (`apt-get install -y chromium
chromium-driver`; .ci/run installs them). Selenium uses /usr/bin/chromedriver
and /usr/bin/chromium and never Selenium Manager (no downloads). Without them
the test is skipped, except in CI (CI=true), where it fails.

Timeouts (seconds, environment): DLKIT_BROWSER_URL_TIMEOUT (until the URL is
printed: the set-up, and a warm-up if the slot is cold; default 1800),
DLKIT_BROWSER_RUN_TIMEOUT (from "Run All Cells" to the figure; a cold slot
compiles dlkit and candle at `:dep`; default 1800).
"""

import base64
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = HERE / "plot_in_lab.ipynb"
LOGS = REPO / ".evcxr" / "test-logs"
SCREENSHOT = LOGS / "browser-lab.png"
FIGURE_SHOT = LOGS / "browser-figure.png"
LAB_LOG = LOGS / "browser-scripts-notebooks.log"
DRIVER_LOG = LOGS / "browser-chromedriver.log"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
URL_TIMEOUT = float(os.environ.get("DLKIT_BROWSER_URL_TIMEOUT", 1800))
RUN_TIMEOUT = float(os.environ.get("DLKIT_BROWSER_RUN_TIMEOUT", 1800))
# Set in the environment of everything the test starts, to find leftovers.
MARKER = "DLKIT_BROWSER_TEST_RUN"
CODE_CELLS = 3  # in FIXTURE: :dep, settings, the figure

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,1100",
]

# JupyterLab settings for this run only (a fresh user-settings directory):
# no autosave, so the committed fixture is never written; no news or update
# checks (closed network, and no notification over the page).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": '{"autosave": false}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false}',
}


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def browser_tools():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the Python package selenium (scripts/requirements.txt)")
    if missing:
        reason = ("browser test needs " + ", ".join(missing)
                  + " (Debian: apt-get install -y chromium chromium-driver)")
        if in_ci():
            pytest.fail(reason + "; CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(reason)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked_processes(run_id):
    """Pids of live processes whose environment carries this run's marker."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def describe(pids):
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        out.append(f"  {pid}: {cmd[:200]}")
    return "\n".join(out)


class Lab:
    """`scripts/notebooks` in its own process group, its output teed to LAB_LOG."""

    def __init__(self, env, port, settings_dir, workspaces_dir):
        LAB_LOG.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(LAB_LOG, "w")
        self.lines = []
        self.url = None
        self.found = threading.Event()
        cmd = [str(REPO / "scripts" / "notebooks"), "--port", str(port), "--root", str(HERE),
               "--", f"--LabApp.user_settings_dir={settings_dir}",
               f"--LabApp.workspaces_dir={workspaces_dir}"]
        self.log.write("$ " + " ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        pattern = re.compile(r"(http://127\.0\.0\.1:\d+)/lab\?token=([0-9a-f]+)")
        for line in self.proc.stdout:
            self.lines.append(line)
            self.log.write(line)
            self.log.flush()
            m = pattern.search(line)
            if m and self.url is None:
                self.url = (m[1], m[2])
                self.found.set()
        self.found.set()  # output ended: wake the waiter

    def tail(self, n=40):
        return "".join(self.lines[-n:])

    def wait_url(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.found.wait(5):
            if time.monotonic() > deadline:
                break
        if self.url is None:
            code = self.proc.poll()
            state = f"exited with {code}" if code is not None else f"no URL after {timeout:.0f} s"
            pytest.fail(f"scripts/notebooks {state} (log {LAB_LOG}):\n{self.tail()}", pytrace=False)
        return self.url

    def wait_serving(self, base, token, timeout=120):
        """The URL is printed just before Jupyter starts: wait until it answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer at {base} within {timeout} s "
                    f"(exit {self.proc.poll()}; log {LAB_LOG}):\n{self.tail()}", pytrace=False)

    def stop(self, timeout=60):
        """SIGTERM to the process group (Jupyter stops its kernels and exits)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                return f"JupyterLab ignored SIGTERM for {timeout} s; killed"
        self.reader.join(10)
        self.log.close()
        return None


def start_browser(env, profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def no_selenium_manager(*args, **kwargs):
        raise RuntimeError("Selenium Manager must not run (it downloads browsers and drivers)")

    # Belt and braces: with a Service path Selenium skips it; make sure it does.
    selenium_manager.SeleniumManager.binary_paths = no_selenium_manager
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS + [f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(DRIVER_LOG), env=env)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(120)
    return driver


# JavaScript run in the page. State of the notebook: the kernel indicator,
# each code cell's prompt and error text, and the figure if one is there.
STATE_JS = r"""
const dialog = [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim()).join(' | ');
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
if (!panel) return {panel: false, dialog: dialog};
const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
const code = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell')];
const cells = code.map(c => ({
    prompt: (c.querySelector('.jp-InputPrompt') || {}).textContent || '',
    errors: [...c.querySelectorAll('.jp-OutputArea [data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent).join('\n'),
    output: [...c.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).join('\n'),
}));
const last = code[code.length - 1];
const img = last && last.querySelector('.jp-OutputArea-output.jp-RenderedImage[data-mime-type="image/png"] img');
return {
    panel: true,
    dialog: dialog,
    // the toolbar's indicator, and the status bar's "Rust | Idle" (the kernel connected)
    kernel: ind ? ind.getAttribute('data-status') : null,
    statusbar: [...document.querySelectorAll('.jp-StatusBar-TextItem')].map(e => e.textContent).join(' / '),
    cells: cells,
    image: img ? {complete: img.complete, width: img.naturalWidth, height: img.naturalHeight} : null,
    element: img || null,
};
"""

# Distinct colours in the <img> as drawn (a blank or broken image has one).
COLOURS_JS = r"""
const img = arguments[0];
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const ctx = canvas.getContext('2d');
ctx.drawImage(img, 0, 0);
const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
const seen = new Set();
for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
const r = img.getBoundingClientRect();
return {colours: seen.size, shown_width: r.width, shown_height: r.height,
        visible: r.width > 0 && r.height > 0 && getComputedStyle(img).visibility !== 'hidden'};
"""


def wait_for(driver, what, timeout, check, interval=1.0, detail=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    extra = f"\n{detail()}" if detail else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")


def page_state(driver, lab):
    """STATE_JS's answer; fails at once when JupyterLab shows a dialog (kernel died, ...)."""
    state = driver.execute_script(STATE_JS)
    if state.get("dialog"):
        kernel_lines = [l for l in lab.lines if "rust-kernel" in l or "estart" in l or "Error" in l]
        raise AssertionError(
            f"JupyterLab shows a dialog: {' '.join(state['dialog'].split())}\n"
            f"status bar: {state.get('statusbar')}\nkernel lines of {LAB_LOG}:\n"
            + "".join(kernel_lines[-15:]))
    return state


def kernel_idle(state):
    return state.get("kernel") == "idle" and re.search(r"\|\s*Idle\b", state.get("statusbar", ""))


def click_menu(driver, menu, label, timeout=30):
    from selenium.webdriver.common.by import By

    def top():
        for item in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item"):
            if item.text.strip() == menu:
                return item
        return None

    wait_for(driver, f"the {menu} menu", timeout, top).click()
    entry = wait_for(driver, f"the menu entry {menu} > {label}", timeout, lambda: next(
        (e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
         if e.is_displayed() and e.text.strip().startswith(label)
         and e.find_element(By.CSS_SELECTOR, ".lm-Menu-itemLabel").text.strip() == label), None))
    command = entry.get_attribute("data-command")
    entry.click()
    return command


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the <img> is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_figure_in_jupyterlab(browser_tools):
    from selenium.webdriver.common.by import By

    t0 = time.monotonic()
    run_id = uuid.uuid4().hex
    tmp = Path(tempfile.mkdtemp(prefix="dlkit-browser-"))
    settings_dir, workspaces_dir = tmp / "lab-settings", tmp / "lab-workspaces"
    for name, text in LAB_SETTINGS.items():
        (settings_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (settings_dir / name).write_text(text)
    workspaces_dir.mkdir()
    env = dict(os.environ, **{MARKER: run_id, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")})
    fixture_before = FIXTURE.read_bytes()
    checkpoints_existed = (HERE / ".ipynb_checkpoints").exists()
    for old in (SCREENSHOT, FIGURE_SHOT):
        old.unlink(missing_ok=True)

    problems = []
    lab = Lab(env, free_port(), settings_dir, workspaces_dir)
    driver = None
    try:
        base, token = lab.wait_url(URL_TIMEOUT)
        lab.wait_serving(base, token)
        print(f"JupyterLab at {base} after {time.monotonic() - t0:.1f} s")
        driver = start_browser(env, tmp / "chromium-profile")
        try:
            driver.get(f"{base}/lab/tree/{FIXTURE.name}?token={token}")
            state = wait_for(driver, "the notebook to open", 120, lambda: (
                (s := page_state(driver, lab))["panel"] and len(s["cells"]) == CODE_CELLS and s))
            # The kernel starts with the notebook (taking a slot; copying a warm
            # one into a new slot can take a minute).
            wait_for(driver, "the rust kernel to be idle", 300,
                     lambda: kernel_idle(page_state(driver, lab)), 2, detail=lambda: (
                         f"status bar: {page_state(driver, lab).get('statusbar')}; "
                         f"JupyterLab log {LAB_LOG}:\n{lab.tail(15)}"))
            print(f"notebook open, kernel idle after {time.monotonic() - t0:.1f} s")
            command = click_menu(driver, "Run", "Run All Cells")
            print(f"Run > Run All Cells ({command})")
            t_run = time.monotonic()

            def figure_or_error():
                s = page_state(driver, lab)
                img = s.get("image")
                if img and img["complete"] and img["width"] > 0:
                    return s
                done = all(re.fullmatch(r"\[\d+\]:", c["prompt"].strip()) for c in s["cells"])
                busy = any("*" in c["prompt"] for c in s["cells"])
                errors = [c["errors"] for c in s["cells"] if c["errors"].strip()]
                if errors and not busy and kernel_idle(s):
                    raise AssertionError("a cell failed instead of drawing the figure:\n"
                                         + "\n".join(errors)[-3000:])
                if done and kernel_idle(s):
                    raise AssertionError("all cells ran, but the last one shows no image; its output:\n"
                                         + s["cells"][-1]["output"][-3000:])
                return None

            state = wait_for(driver, "the figure (an <img> in the output area)", RUN_TIMEOUT,
                             figure_or_error, 2, detail=lambda: (
                                 "cells: " + repr(page_state(driver, lab)["cells"])[-2000:]))
            print(f"figure shown {time.monotonic() - t_run:.1f} s after Run All Cells")
            assert all(c["prompt"].strip() not in ("[ ]:", "[*]:") for c in state["cells"]), state

            img = state["element"]
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
            src = img.get_attribute("src")
            prefix = "data:image/png;base64,"
            assert src.startswith(prefix), f"the figure is not an inline PNG: {src[:80]}"
            width, height = png_size(base64.b64decode(src[len(prefix):]))
            assert (width, height) == (state["image"]["width"], state["image"]["height"])
            assert width >= 300 and height >= 300, f"figure only {width}×{height} pixels"
            drawn = driver.execute_script(COLOURS_JS, img)
            assert drawn["visible"] and drawn["shown_width"] >= 200, f"figure not visible: {drawn}"
            # viridis over the pattern, plus axes and text: many colours
            assert drawn["colours"] >= 50, f"figure looks blank: {drawn}"
            # rich output: JupyterLab chose image/png, not the text/plain alternative
            out = img.find_element(By.XPATH, "./ancestor::div[contains(@class,'jp-OutputArea-child')][1]")
            assert "Figure (" not in out.text, out.text
            img.screenshot(str(FIGURE_SHOT))
            print(f"figure {width}×{height} pixels, {drawn['colours']} colours; "
                  f"page shown at {drawn['shown_width']:.0f}×{drawn['shown_height']:.0f}")
        finally:
            try:
                driver.save_screenshot(str(SCREENSHOT))
                print(f"screenshot: {SCREENSHOT}")
            except Exception as e:  # the browser may be gone
                problems.append(f"no screenshot: {e}")
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception as e:
                problems.append(f"driver.quit failed: {e}")
        stop_problem = lab.stop()
        if stop_problem:
            problems.append(stop_problem)
        # Whatever carries the marker now is a leftover (kernel, evcxr, browser).
        leftovers = []
        deadline = time.monotonic() + 20
        while (leftovers := marked_processes(run_id)) and time.monotonic() < deadline:
            time.sleep(1)
        if leftovers:
            problems.append("processes left running after JupyterLab stopped:\n" + describe(leftovers))
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not checkpoints_existed:
            shutil.rmtree(HERE / ".ipynb_checkpoints", ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"browser test wall time {time.monotonic() - t0:.1f} s; log {LAB_LOG}")

    assert FIXTURE.read_bytes() == fixture_before, f"{FIXTURE} was modified"
    assert lab.proc.returncode is not None
    assert not problems, "\n".join(problems)
