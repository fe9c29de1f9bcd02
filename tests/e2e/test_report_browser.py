"""The HTML report in a real browser: headless Chromium loads it with no console messages,
a screenshot of the expected size shows the plots, and the DOM holds them as inline SVG.

Needs Debian's chromium at /usr/bin/chromium (`make setup` installs it).
"""

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.studies import report_cmd
from sim.cli.study import study_group
from sim.run import run_file as run_to_dir
from sim.studies.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing from the network, should it try
]
WIDTH, HEIGHT = 1280, 2400

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make setup)"
)


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on `page` with a fresh profile; console messages go to stderr."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=1",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def check_page(page: Path, tmp: Path, min_plots: int) -> None:
    text = page.read_text()
    # self-contained: no scripts, no external resources
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    dom = chromium(page, tmp, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    n_svg = dom.stdout.count("<svg")
    assert n_svg >= min_plots, n_svg
    shot = tmp / f"{page.stem}.png"
    r = chromium(page, tmp, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert console_messages(r.stderr) == []
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (HEIGHT, WIDTH)
    non_white = (img < 0.95).any(axis=2).mean()
    colourful = (img.max(axis=2) - img.min(axis=2) > 0.25).mean()  # plot lines and fills
    assert non_white > 0.02, non_white
    assert colourful > 0.003, colourful


def test_the_console_check_catches_an_error(tmp_path):
    # the negative control: a page that logs an error is caught by the same check
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>undefinedFn()</script></body></html>")
    r = chromium(bad, tmp_path, "--dump-dom")
    assert any("undefinedFn" in m for m in console_messages(r.stderr))


def test_run_report_in_the_browser(tmp_path):
    run = tmp_path / "run"
    run_to_dir(
        ROOT / "scenarios" / "keeper_lp.yaml",
        run,
        paths=8,
        seed=1,
        overrides=["blocks.n_blocks=300", "metrics.series_every=10"],
    )
    r = CliRunner().invoke(report_cmd, [str(run), "--out", str(tmp_path / "run.html")])
    assert r.exit_code == 0, r.output
    page = tmp_path / "run.html"
    html = page.read_text()
    for heading in (
        "Reference vs pool price",
        "LP P&amp;L split",
        "Hedge events",
        "Metrics (mean ± SE over worlds)",
    ):
        assert heading in html or heading.replace(" ", "") in html, heading
    assert "± " in html and "numeraire" in html and "1/day" in html
    # price, mispricing, inventory + LP vs hold, LP split
    check_page(page, tmp_path, min_plots=4)


def test_sweep_report_in_the_browser(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text(
        (ROOT / "scenarios" / "reference.yaml")
        .read_text()
        .replace("n_blocks: 7200", "n_blocks: 300")
    )
    r = run_sweep(
        scen,
        tmp_path / "sweep",
        ["pools.0.fee_bps=5,30", "blocks.block_time=2,12"],
        paths=20,
        workers=2,
    )
    assert r["ok"] == 4
    page = tmp_path / "sweep.html"
    out = CliRunner().invoke(report_cmd, [str(tmp_path / "sweep"), "--out", str(page)])
    assert out.exit_code == 0, out.output
    assert "Sweep" in page.read_text()
    check_page(page, tmp_path, min_plots=4)  # one heatmap per metric


def test_arbitrage_study_report_in_the_browser(tmp_path):
    # a small real study: 3 points x 2 worlds x 15 min, the command as a user runs it
    out = tmp_path / "study"
    args = ["arbitrage", "--worlds", "2", "--hours", "0.25", "--workers", "1", "--out", str(out)]
    args += ["--levels", "gas_gwei=0,100", "--levels", "oracle_latency=300"]
    r = CliRunner().invoke(study_group, args)
    assert r.exit_code == 0, r.output
    assert "| varied | value | arb volume |" in r.output and "| gas price | 100 gwei |" in r.output
    page = tmp_path / "study.html"
    r = CliRunner().invoke(report_cmd, [str(out), "--out", str(page)])
    assert r.exit_code == 0, r.output
    html = page.read_text()
    for text in ("Arbitrage study", "arb volume", "options LP loss", "Who profits, who pays"):
        assert text in html, text
    assert "Sweep" not in html  # the study's section stands for the sweep's
    check_page(page, tmp_path, min_plots=2)  # one plot per varied factor


def test_a_folder_with_nothing_to_report_is_one_line(tmp_path):
    r = CliRunner().invoke(report_cmd, [str(tmp_path)])
    assert r.exit_code == 1 and "summary.json" in r.output and "Traceback" not in r.output


def test_policy_comparison_report_from_learn_compare_in_the_browser(tmp_path):
    """The report renders what `ammlab learn compare` wrote (no hand-made input)."""
    from sim.cli.learn import learn

    out = tmp_path / "cmp"
    r = CliRunner().invoke(
        learn,
        ["compare", str(ROOT / "scenarios/learn/tiny.yaml"), "--out", str(out), "--paths", "60",
         "--tune-paths", "40", "--no-forecaster", "--quiet"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "**Verdict:**" in r.output
    page = tmp_path / "cmp.html"
    r = CliRunner().invoke(report_cmd, [str(out), "--out", str(page)])
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert "Policy comparison: learned vs static delta hedging" in text
    for policy in ("learned", "whalley_wilmott", "delta_band"):
        assert policy in text
    assert "Verdict:" in text and "± " in text
    check_page(page, tmp_path, min_plots=1)


def test_options_book_by_board_in_the_report(tmp_path):
    """The options pool's Greeks per board (theta included) reach the report from a real run."""
    run = tmp_path / "opt"
    run_to_dir(ROOT / "scenarios" / "options.yaml", run, paths=4, seed=1,
               overrides=["blocks.n_blocks=120"])  # fmt: skip
    page = tmp_path / "opt.html"
    r = CliRunner().invoke(report_cmd, [str(run), "--out", str(page)])
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert "Options book by board" in text and "theta (numeraire/year)" in text
    assert "board0" in text and "board1" in text and ">total<" in text
    check_page(page, tmp_path, min_plots=0)


def test_lp_ranges_study_report_in_the_browser(tmp_path):
    """`ammlab study lp-ranges` on a tiny grid, then its report: the study's figures (hedged
    P&L and time in range against width), verdicts and tables."""
    from sim.studies.lp_ranges import SCENARIO, run_study

    scen = tmp_path / "lp_ranges.yaml"
    text = SCENARIO.read_text().replace("n_blocks: 7200", "n_blocks: 150")
    scen.write_text(text.replace("warmup_blocks: 300", "warmup_blocks: 10"))
    grid = {"width": [0.04, 0.1], "sigma": [0.05], "fee": [500], "policy": ["static", "none"]}
    r = run_study(tmp_path / "study", grid, paths=4, workers=2, scenario=scen)
    assert r["ok"] == 4, r["failures"]
    page = tmp_path / "lpr.html"
    out = CliRunner().invoke(report_cmd, [str(tmp_path / "study"), "--out", str(page)])
    assert out.exit_code == 0, out.output
    text = page.read_text()
    assert "Active liquidity management" in text and "σ²/8" in text
    assert "Best static width per volatility against the published rule" in text
    check_page(page, tmp_path, min_plots=2)
