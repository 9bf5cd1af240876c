"""Jena climate forecasting: window/target alignment, the baseline, the three sources, bad input."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from dlab.data.datasets.jena import (
    COLUMNS,
    CSV_NAME,
    ROWS_PER_HOUR,
    TEMPERATURE,
    URL,
    Windows,
    last_value_predictions,
    split_arrays,
    split_rows,
    synthetic_frame,
    window_dataset,
)

T = COLUMNS.index(TEMPERATURE)


def counting_series(rows: int) -> np.ndarray:
    """14 columns; the temperature of row r is r (degC), so a target names its own row."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, len(COLUMNS)))
    values[:, T] = np.arange(rows)
    return values


def run_dir(tmp_path, name):
    (run,) = (tmp_path / "outputs" / name).iterdir()
    return run, json.loads((run / "metrics.json").read_text())


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_each_target_is_the_temperature_24_hours_after_the_window_end(split):
    data = split_rows(counting_series(1200), list(COLUMNS))
    windows = Windows(sequence_length=4, sampling_rate=6, horizon_hours=24)
    first_row = {"train": 0, "val": 600, "test": 900}[split]
    mean, std = data.extra["target_train_mean"], data.extra["target_train_std"]
    starts, seen = [], 0
    for x, y in window_dataset(data, split, windows, batch_size=32):
        x, y = x.numpy(), y.numpy()
        rows = x[:, :, T] * std + mean  # the window's rows, read back from the temperature
        np.testing.assert_allclose(np.diff(rows, axis=1), 6, atol=1e-3)  # every 6th row: hourly
        window_end = rows[:, -1]
        np.testing.assert_allclose(y - window_end, 24 * ROWS_PER_HOUR, atol=1e-3)  # 24 h later
        starts.extend(np.rint(rows[:, 0]).astype(int).tolist())
        seen += len(y)
    # consecutive windows, one per row, starting at the split's first row
    assert starts == list(range(first_row, first_row + seen))
    expected = {"train": 600 - 18, "val": 300 - 18, "test": 300 - 18 - 144 - 18}[split]
    assert (
        seen
        == expected
        == windows.count({"train": 600, "val": 300, "test": 300}[split], last=split == "test")
    )
    if split == "test":  # as DLwP (windows over raw_data[:-delay]): the last target is the
        assert max(starts) + windows.delay == 1199 - windows.span  # row `span` before the end


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_windows_are_those_of_keras_timeseries_dataset_from_array(split):
    """The book's call (raw_data[:-delay], targets=temperature[delay:], start/end index)."""
    import keras

    values = counting_series(1500)
    data = split_rows(values, list(COLUMNS))
    windows = Windows(sequence_length=7, sampling_rate=3, horizon_hours=2)
    scaled = np.concatenate([data.x_train, data.x_val, data.x_test])
    temperature = values[:, T].astype(np.float32)
    bounds = {"train": (0, 750), "val": (750, 1125), "test": (1125, None)}[split]
    book = keras.utils.timeseries_dataset_from_array(
        scaled[: -windows.delay],
        targets=temperature[windows.delay :],
        sampling_rate=3,
        sequence_length=7,
        batch_size=50,
        start_index=bounds[0],
        end_index=bounds[1],
    )
    ours = window_dataset(data, split, windows, batch_size=50)

    def read(dataset):
        batches = [(x.numpy(), y.numpy()) for x, y in dataset]
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])

    (book_x, book_y), (our_x, our_y) = read(book), read(ours)
    assert len(our_y) == windows.count({"train": 750, "val": 375, "test": 375}[split], last=split == "test")
    np.testing.assert_array_equal(our_x, book_x)
    np.testing.assert_array_equal(our_y, book_y)


def test_shuffled_windows_are_the_same_windows_in_a_new_order_each_epoch():
    data = split_rows(counting_series(1200), list(COLUMNS))
    windows = Windows(sequence_length=4, sampling_rate=6, horizon_hours=24)
    dataset = window_dataset(data, "train", windows, batch_size=64, shuffle=True, seed=1)
    epochs = [np.concatenate([y.numpy() for _, y in dataset]) for _ in range(2)]
    assert not np.array_equal(epochs[0], epochs[1])
    ordered = np.concatenate([y.numpy() for _, y in window_dataset(data, "train", windows, 64)])
    for targets in epochs:
        np.testing.assert_array_equal(np.sort(targets), ordered)


def test_delay_is_dlwp_formula():
    windows = Windows()  # 120 hourly rows, 24 h ahead
    assert windows.delay == 6 * (120 + 24 - 1) == 858


def test_rows_are_split_in_time_order_and_standardized_with_training_statistics():
    values = counting_series(1000) * 3 + 7
    data = split_rows(values, list(COLUMNS))
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (500, 250, 250)
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-4)
    assert abs(data.x_test[:, T].mean()) > 2  # the test rows are not standardized on themselves
    np.testing.assert_array_equal(data.y_test, values[750:, T].astype(np.float32))  # degC


# --------------------------------------------------------------------------- baseline


def test_baseline_mae_equals_a_direct_numpy_computation():
    rng = np.random.default_rng(3)
    values = rng.normal(10, 5, size=(900, len(COLUMNS)))
    data = split_rows(values, list(COLUMNS))
    windows = Windows(sequence_length=5, sampling_rate=3, horizon_hours=2)  # delay 12 + 12
    temperature = values[:, T]
    span, delay = 12, 24
    # validation: windows start at rows 450 .. 450 + 225 - span - 1, targets may pass into test
    val_starts = np.arange(450, 450 + 225 - span)
    expected_val = np.mean([abs(temperature[s + span] - temperature[s + delay]) for s in val_starts])
    test_starts = np.arange(675, 900 - delay - span)
    expected_test = np.mean([abs(temperature[s + span] - temperature[s + delay]) for s in test_starts])
    for split, expected in (("val", expected_val), ("test", expected_test)):
        predicted, true = last_value_predictions(data, split, windows)
        assert np.mean(np.abs(predicted - true)) == pytest.approx(expected, rel=1e-5)
        # and DLwP's way: the last temperature of every window of the same tf.data dataset
        maes = []
        mean, std = data.extra["target_train_mean"], data.extra["target_train_std"]
        for x, y in window_dataset(data, split, windows, batch_size=64):
            maes.append(np.abs(x.numpy()[:, -1, T] * std + mean - y.numpy()))
        assert np.concatenate(maes).mean() == pytest.approx(expected, rel=1e-5)


def test_baseline_config_runs_without_training(cli, tmp_path):
    result = cli("run", "baseline-jena", "--smoke")
    assert result.exit_code == 0, result.output
    run, metrics = run_dir(tmp_path, "baseline-jena")
    forecast = metrics["forecast"]
    assert forecast["test_mae_degC"] == forecast["baseline_test_mae_degC"] == metrics["test"]["mae"]
    assert metrics["params"]["total"] == 0 and not (run / "model.keras").exists()
    assert (run / "plots" / "forecast.png").is_file()


# --------------------------------------------------------------------------- sources


def write_csv(path, rows: int = 7000, seed: int = 0):
    synthetic_frame(rows, seed).to_csv(path, index=False)
    return path


def test_synthetic_frame_has_the_real_layout():
    frame = synthetic_frame(300, 0)
    assert list(frame.columns) == ["Date Time", *COLUMNS]
    assert frame["Date Time"].iloc[0] == "01.01.2009 00:10:00"
    assert frame["Date Time"].iloc[1] == "01.01.2009 00:20:00"


def test_file_source_reads_the_csv(cli, tmp_path):
    path = write_csv(tmp_path / CSV_NAME)
    result = cli("run", "baseline-jena", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 0, result.output
    _, metrics = run_dir(tmp_path, "baseline-jena")
    assert metrics["data"]["source"] == "file" and metrics["data"]["location"] == str(path)
    assert metrics["data"]["rows"] == 7000
    # the same numbers as the module computes from the file's own rows
    values = synthetic_frame(7000, 0)[list(COLUMNS)].to_numpy()
    predicted, true = last_value_predictions(split_rows(values, list(COLUMNS)), "test", Windows())
    assert metrics["test"]["mae"] == pytest.approx(np.mean(np.abs(predicted - true)), rel=1e-4)


def test_file_source_keeps_the_first_samples_rows(cli, tmp_path):
    path = write_csv(tmp_path / "jena.csv", rows=8000)
    result = cli(
        "run",
        "baseline-jena",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={path}",
        "--set",
        "data.samples=7000",
    )
    assert result.exit_code == 0, result.output
    assert run_dir(tmp_path, "baseline-jena")[1]["data"]["rows_per_split"] == {
        "train": 3500,
        "val": 1750,
        "test": 1750,
    }


def test_keras_source_downloads_and_extracts_the_zip(cli, tmp_path, monkeypatch):
    import keras

    archive = tmp_path / "download" / "jena_climate_2009_2016.csv.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(CSV_NAME, synthetic_frame(7000, 1).to_csv(index=False))
    calls = []

    def fake_get_file(fname=None, origin=None, extract=False, **kwargs):
        """What Keras 3 does: download the archive, extract it next to it, return the folder."""
        calls.append((fname, origin, extract))
        folder = archive.parent / "jena_climate_2009_2016_extracted"
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(folder)
        return str(folder)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    result = cli("run", "baseline-jena")
    assert result.exit_code == 0, result.output
    assert calls == [("jena_climate_2009_2016.csv.zip", URL, True)]
    _, metrics = run_dir(tmp_path, "baseline-jena")
    assert metrics["data"]["source"] == "keras" and metrics["data"]["location"] == URL
    assert metrics["data"]["rows"] == 7000


def test_keras_source_offline_gives_the_one_paragraph_help(cli, tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    result = cli("run", "lstm-jena")
    assert result.exit_code == 2
    assert "Could not download the jena dataset" in result.output and URL in result.output
    assert "--smoke" in result.output and "data.source=file" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


# --------------------------------------------------------------------------- bad input


def test_csv_without_the_temperature_column_lists_the_columns(cli, tmp_path):
    path = tmp_path / "bad.csv"
    synthetic_frame(3000, 0).rename(columns={TEMPERATURE: "T (C)"}).to_csv(path, index=False)
    result = cli("run", "lstm-jena", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "no temperature column 'T (degC)'" in text and "T (C)" in text and "p (mbar)" in text
    assert "Traceback" not in result.output and not list(tmp_path.glob("outputs/*/*"))


def test_non_numeric_columns_are_named(cli, tmp_path):
    path = tmp_path / "bad.csv"
    frame = synthetic_frame(3000, 0)
    frame["station"] = "Jena"
    frame.to_csv(path, index=False)
    result = cli("run", "lstm-jena", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert "station" in result.output and "must hold numbers" in " ".join(result.output.split())


def test_a_window_longer_than_a_split_is_refused_before_training(cli, tmp_path):
    result = cli("run", "lstm-jena", "--smoke", "--set", "model.window.sequence_length=200")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "model.window.sequence_length=200" in text and "does not fit the" in text
    assert "Use sequence_length <=" in text
    assert not list(tmp_path.glob("outputs/*/*"))


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("data.validation=test", "data.validation=split"),
        ("data.train_samples=1000", "data.samples=N"),
        ("model.window.sequence_length=40", "too short for the conv1d stack"),
    ],
)
def test_settings_that_break_the_series_apart_are_refused(cli, tmp_path, setting, words):
    result = cli(
        "run",
        "conv1d-jena",
        "--smoke",
        "--set",
        "model.kernel_sizes=[24,12,6]",
        "--set",
        "model.window.sampling_rate=1",
        "--set",
        setting,
    )
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())


def test_validation_split_needs_a_dataset_that_has_one():
    from dlab.data import ArrayDataset, split_validation
    from dlab.errors import ConfigError

    rows = np.zeros((10, 2))
    data = ArrayDataset("x", "synthetic", None, rows, rows[:, 0], rows, rows[:, 0])
    with pytest.raises(ConfigError, match="has none"):
        split_validation(data, "split")


# --------------------------------------------------------------------------- models and study


def test_models_match_dlwp_parameter_counts():
    """The DLwP chapter-10 layers on (120, 14) windows, counted by hand."""
    from dlab.framework.factory import resolve_config
    from dlab.framework.registry import get

    def lstm(units, inputs):
        return 4 * (units * (inputs + units) + units)

    def gru(units, inputs):  # Keras's reset_after=True: two bias vectors
        return 3 * (units * (inputs + units) + 2 * units)

    expected = {
        "dense-jena": 120 * 14 * 16 + 16 + 17,
        "conv1d-jena": (24 * 14 * 8 + 8) + (12 * 8 * 8 + 8) + (6 * 8 * 8 + 8) + 9,
        "lstm-jena": lstm(16, 14) + 17,
        "lstm-dropout-jena": lstm(32, 14) + 33,
        "gru-stacked-jena": gru(32, 14) + gru(32, 32) + 33,
    }
    for name, params in expected.items():
        config = resolve_config(name, sets=["data.source=synthetic", "data.samples=7000"])
        experiment = get(config.experiment)()
        model = experiment.prepare(config, experiment.load_data(config))
        assert model.count_params() == params, name


def test_study_compares_every_model_against_the_baseline():
    from dlab.sweep.study import expand_study, load_study

    study = load_study("jena-models")
    members = [member.config for member in expand_study(study)]
    assert members[0] == "baseline-jena" and len(members) == 6
    assert study.compare.metric == "test.mae" and study.compare.threshold == 2.62


def test_synthetic_series_can_be_forecast_better_than_the_baseline():
    """Least squares on the last day of temperature and pressure beats "tomorrow = today"
    on the synthetic twin's validation windows (so a smoke or CI run has something to learn)."""
    from dlab.data.datasets.jena import synthetic_series

    values = synthetic_series(60_000, seed=5)
    data = split_rows(values, list(COLUMNS))
    windows = Windows()

    def features(split):
        inputs, targets = split_arrays(data, split, windows)
        count = len(inputs) - windows.span
        ends = np.arange(count) + windows.span
        hourly = ends[:, None] - 6 * np.arange(24)[None, :]  # the last 24 hourly rows
        x = np.concatenate(
            [inputs[hourly, T], inputs[hourly, COLUMNS.index("p (mbar)")], np.ones((count, 1))], axis=1
        )
        return x, targets[:count]

    x_train, y_train = features("train")
    weights, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
    x_val, y_val = features("val")
    forecast_mae = np.mean(np.abs(x_val @ weights - y_val))
    predicted, true = last_value_predictions(data, "val", windows)
    baseline_mae = np.mean(np.abs(predicted - true))
    assert forecast_mae < 0.95 * baseline_mae


def test_file_source_reads_the_downloaded_zip_as_it_is(tmp_path):
    from dlab.data.datasets.jena import ARCHIVE, read_csv

    frame = synthetic_frame(500, 2)
    with zipfile.ZipFile(tmp_path / ARCHIVE, "w") as bundle:
        bundle.writestr(CSV_NAME, frame.to_csv(index=False))
    values, columns = read_csv(tmp_path / ARCHIVE)
    assert columns == list(COLUMNS) and values.shape == (500, 14)
    np.testing.assert_allclose(values, frame[list(COLUMNS)].to_numpy(), rtol=1e-12)
