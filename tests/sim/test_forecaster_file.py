"""The forecaster file: plain JSON trees that predict bit for bit what scikit-learn's estimator
does, written atomically; anything else (a pickle above all) refused in one line, never run."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.ensemble import HistGradientBoostingRegressor

from sim.cli.learn import learn
from sim.learn.book import BookSnapshot
from sim.learn.config import load_config
from sim.learn.forecast import (
    FEATURES,
    FORMAT,
    BoostedTrees,
    Forecaster,
    ForecasterFileError,
    fit_forecaster,
    load_cached,
)
from sim.learn.model import BandModel

TINY = "scenarios/learn/tiny.yaml"
F = len(FEATURES)


class _Trap:
    """Unpickling this creates `marker`: the proof that a loader ran a file's code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _features(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, F))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values: splits that route NaN
    return x


@pytest.fixture(scope="module")
def sklearn_model() -> HistGradientBoostingRegressor:
    rng = np.random.default_rng(0)
    x = _features(rng, 5000)
    y = np.nan_to_num(x[:, 0]) ** 2 + np.sin(np.nan_to_num(x[:, 1])) + 0.1 * rng.normal(size=5000)
    return HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, y)


@pytest.fixture(scope="module")
def forecaster(sklearn_model) -> Forecaster:
    report = {"r2_model": 0.5, "verdict": "a test forecaster"}
    return Forecaster(BoostedTrees.from_sklearn(sklearn_model), 36, 600.0, 5e-4, 0.8, report)


@pytest.fixture
def good_file(forecaster, tmp_path) -> Path:
    return forecaster.save(tmp_path / "forecaster.json")


def test_trees_predict_bit_for_bit_what_sklearn_does(sklearn_model):
    trees = BoostedTrees.from_sklearn(sklearn_model)
    # The test covers NaN routed both ways and splits on NaN alone (threshold +inf).
    inner = trees.left >= 0
    assert trees.missing_left[inner].any() and not trees.missing_left[inner].all()
    assert np.isinf(trees.threshold[inner]).any()
    x = _features(np.random.default_rng(1), 2000)
    x[0, :] = np.inf
    x[1, :] = -np.inf
    assert trees.predict(x).tobytes() == sklearn_model.predict(x).tobytes()


def test_fitted_forecaster_round_trips_to_identical_predictions(tmp_path):
    cfg = load_config(TINY)
    longer = cfg.model_copy(
        update={"grid": cfg.grid.model_copy(update={"horizon": 2 * 86400.0, "dt": 1800.0})}
    )
    f = fit_forecaster(longer, seed=1, n_paths=20, horizon=12)
    path = f.save(tmp_path / "forecaster.json")
    assert [p.name for p in tmp_path.iterdir()] == ["forecaster.json"]  # no temporary left
    assert json.loads(path.read_text())["format"] == FORMAT
    g = Forecaster.load(path)
    x = _features(np.random.default_rng(2), 3 * 50).reshape(3, 50, F)
    assert g.predict(x).tobytes() == f.predict(x).tobytes()
    assert (g.horizon, g.dt, g.fee, g.iv, g.report) == (f.horizon, f.dt, f.fee, f.iv, f.report)


def _assert_refused(path: Path, *, says: str = "") -> str:
    for load in (Forecaster.load, load_cached):
        with pytest.raises(ForecasterFileError) as err:
            load(path)
        msg = str(err.value)
        assert "\n" not in msg and path.name in msg, msg
        assert "refit it with `ammlab learn forecast" in msg or "cannot read it" in msg, msg
        assert says in msg, msg
    return msg


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL], ids=lambda p: f"proto{p}")
def test_pickle_is_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_Trap(marker), protocol=protocol)
    path = tmp_path / "forecaster.pkl"
    path.write_bytes(payload)
    _assert_refused(path, says="a pickle" if protocol >= 2 else "not JSON")
    assert not marker.exists()
    pickle.loads(payload)  # the payload is armed: unpickling it does run its code
    assert marker.exists()


def _edit(doc: dict, change) -> bytes:
    change(doc)
    return json.dumps(doc).encode()


def _tree0(doc: dict) -> dict:
    return doc["model"]["trees"][0]


BAD = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "garbage": lambda good: bytes(range(256)),
    "not-an-object": lambda good: b"[1, 2]",
    "newer-version": lambda good: good.replace(FORMAT.encode(), b"ammlab.learn.forecaster/2"),
    "band-model": lambda good: b'{"format": "ammlab.learn.ntb/2"}',
    "other-features": lambda good: _edit(json.loads(good), lambda d: d["features"].pop()),
    "no-trees": lambda good: _edit(json.loads(good), lambda d: d["model"].pop("trees")),
    "loop": lambda good: _edit(json.loads(good), lambda d: _tree0(d)["left"].__setitem__(0, 0)),
    "child-past-end": lambda good: _edit(
        json.loads(good), lambda d: _tree0(d)["right"].__setitem__(0, 10**6)
    ),
    "feature-out-of-range": lambda good: _edit(
        json.loads(good), lambda d: _tree0(d)["feature"].__setitem__(0, F)
    ),
    "lengths-differ": lambda good: _edit(json.loads(good), lambda d: _tree0(d)["value"].pop()),
    "float-index": lambda good: _edit(
        json.loads(good), lambda d: _tree0(d)["left"].__setitem__(0, 1.5)
    ),
}


def test_good_file_loads(good_file, forecaster):
    """The positive case beside the refusals below: the same file, unedited."""
    x = _features(np.random.default_rng(3), 100)
    assert load_cached(good_file).predict(x).tobytes() == forecaster.predict(x).tobytes()


@pytest.mark.parametrize("make", BAD.values(), ids=BAD.keys())
def test_file_not_in_the_format_is_refused(good_file, make):
    good_file.write_bytes(make(good_file.read_bytes()))
    _assert_refused(good_file)


def test_missing_file_is_refused(tmp_path):
    _assert_refused(tmp_path / "absent.json", says="cannot read it")


def test_cli_refuses_a_pickled_forecaster_in_one_line(tmp_path):
    cfg = load_config(TINY)
    model = BandModel(
        unit=1.0, k_ref=cfg.grid.s0, iv=0.8, expiries=np.array([86400.0]), dt=600.0,
        horizon=86400.0, use_flow=False, mean=np.zeros(6), std=np.ones(6),
        layers=[(np.zeros((2, 8)), np.zeros(2))], book=BookSnapshot.from_config(cfg),
    ).save(tmp_path / "model.json")  # fmt: skip
    marker = tmp_path / "code-ran"
    old = tmp_path / "forecaster.pkl"
    old.write_bytes(pickle.dumps(_Trap(marker)))
    args = ["evaluate", str(model), TINY, "--forecaster", str(old), "--no-tune"]
    result = CliRunner().invoke(learn, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: forecaster {old}: a pickle"), result.output
    assert result.output.count("\n") == 1
    assert not marker.exists()
