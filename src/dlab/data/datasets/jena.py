"""The Jena climate series (Max Planck Institute for Biogeochemistry, 2009-2016).

420,551 rows, one every 10 minutes: a ``Date Time`` column and 14 numeric
measurements (pressure, temperature, humidity, wind ...). As in Deep Learning
with Python (ch. 10), the rows are split in time order into the first 50%
(training), the next 25% (validation) and the last 25% (test), every column is
standardized with the *training* rows' mean and standard deviation, and the
temperature ``T (degC)`` is the value to forecast, kept in degrees Celsius.

``load_data`` returns the rows, not windows: ``x_*`` are the standardized
rows (n, 14) float32 and ``y_*`` the temperature of the same rows in degC;
the validation split is the dataset's own (``data.validation: split``).
:func:`window_dataset` turns a split into the (window, target) batches a
forecasting model trains on: the windows of
``keras.utils.timeseries_dataset_from_array``, cut batch by batch from the
split's rows, so no copy of all windows is ever materialized.

Sources: ``keras`` downloads the zip the Keras examples use with
``keras.utils.get_file`` (cached, extracted); ``file`` reads the CSV (or that
zip) by path (``data.samples`` keeps its first N rows); ``synthetic``
generates the 14 columns with daily and yearly cycles, a persistent weather
anomaly that a model can forecast better than "tomorrow = today", and noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data import ArrayDataset, BatchedDataset, require_path, require_source
from dlab.data.formats.cache import download
from dlab.data.registry import dataset
from dlab.errors import ConfigError, DataError, did_you_mean

if TYPE_CHECKING:
    from dlab.config import DataConfig

URL = "https://s3.amazonaws.com/keras-datasets/jena_climate_2009_2016.csv.zip"
ARCHIVE = "jena_climate_2009_2016.csv.zip"
CSV_NAME = "jena_climate_2009_2016.csv"
TIME_COLUMN = "Date Time"
TEMPERATURE = "T (degC)"
COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)
"""The 14 numeric columns of the real CSV, in its order (after ``Date Time``)."""
ROWS = 420_551
"""Rows of the real CSV."""
ROWS_PER_HOUR = 6
"""One row every 10 minutes."""
SPLITS = (0.5, 0.25)
"""Training and validation shares of the rows, in time order; the test split is the rest."""


# --------------------------------------------------------------------------- loading


@dataset("jena")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """The Jena rows split 50/25/25 in time order, standardized with the training statistics.

    Raises:
        DataError: an unreadable CSV, no temperature column, non-numeric or empty cells,
            an offline download.
    """
    require_source(config, ("keras", "file", "synthetic"), "no built-in copy exists")
    if config.source == "synthetic":
        values, columns = synthetic_series(config.samples or ROWS, seed), list(COLUMNS)
        location = None
    else:
        path = (
            download_csv()
            if config.source == "keras"
            else require_path(config, f"the Jena climate CSV ({CSV_NAME}, or {ARCHIVE})", kind="file")
        )
        values, columns = read_csv(path)
        values = values[: config.samples]  # data.samples: only the first N rows
        location = URL if config.source == "keras" else str(path)
    return split_rows(values, columns, name=config.dataset, source=config.source, location=location)


def split_rows(
    values: np.ndarray,
    columns: list[str],
    name: str = "jena",
    source: str = "file",
    location: str | None = None,
) -> ArrayDataset:
    """Split rows 50/25/25 in time order and standardize them with the training rows' statistics.

    Args:
        values: (rows, features) numbers in time order; one column is ``T (degC)``.
        columns: the feature names, in the order of ``values``' columns.

    Returns:
        An ArrayDataset whose x are standardized float32 rows and y the temperature in degC;
        ``extra`` holds the column names, the temperature column and its training mean and std.
    """
    rows = len(values)
    n_train, n_val = int(SPLITS[0] * rows), int(SPLITS[1] * rows)
    if min(n_train, n_val, rows - n_train - n_val) < 1:
        raise DataError(
            f"The Jena series has {rows} rows: too few to split 50/25/25 in time order. Give a longer series."
        )
    column = columns.index(TEMPERATURE)
    train = values[:n_train]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    scaled = ((values - mean) / std).astype(np.float32)
    temperature = values[:, column].astype(np.float32)
    cut = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, rows))
    (x_train, x_val, x_test), (y_train, y_val, y_test) = (
        [scaled[c] for c in cut],
        [temperature[c] for c in cut],
    )
    return ArrayDataset(
        name=name,
        source=source,
        location=location,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        validation=f"the next 25% of the series after the training rows ({n_val} rows)",
        order="time order, kept on purpose: train, validation and test are consecutive "
        "stretches of the series",
        ordered=True,
        extra={
            "task": "forecasting",
            "rows": rows,
            "columns": list(columns),
            "target_column": TEMPERATURE,
            "target_index": column,
            "target_train_mean": float(mean[column]),
            "target_train_std": float(std[column]),
            # every column's training statistics: what `dlab predict` standardizes a raw window with
            "feature_mean": [float(v) for v in mean],
            "feature_std": [float(v) for v in std],
        },
    )


def read_csv(path: Path) -> tuple[np.ndarray, list[str]]:
    """The numeric columns of a Jena-style CSV (a ``.zip`` holding one CSV works too).

    Returns:
        ``(values, columns)``: float64 (rows, features) and the column names, ``Date Time``
        dropped.

    Raises:
        DataError: not a CSV, no ``T (degC)`` column (the columns are listed), non-numeric
            columns besides ``Date Time``, empty cells.
    """
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(
            f"Cannot read {path} as a CSV file with a header row ({error}). The Jena "
            f"climate CSV has a '{TIME_COLUMN}' column and 14 numeric ones."
        ) from None
    columns = [str(c) for c in table.columns]
    if TEMPERATURE not in columns:
        raise DataError(
            f"{path} has no temperature column '{TEMPERATURE}' (the value Jena "
            f"forecasts).{did_you_mean(TEMPERATURE, columns)} Columns: "
            f"{', '.join(columns)}. Rename the temperature column to '{TEMPERATURE}'."
        )
    table = table.drop(columns=[TIME_COLUMN], errors="ignore")
    non_numeric = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        raise DataError(
            f"{path}: every column but '{TIME_COLUMN}' must hold numbers; these do "
            f"not: {', '.join(non_numeric)}. Convert or drop them first."
        )
    if table.isna().any().any():
        missing = [str(c) for c in table.columns if table[c].isna().any()]
        raise DataError(f"{path} has empty cells in {', '.join(missing)}; fill or drop those rows first.")
    return table.to_numpy(dtype=np.float64), [str(c) for c in table.columns]


def download_csv() -> Path:
    """The real CSV: downloaded once with ``keras.utils.get_file`` (extracted, cached).

    Raises:
        DataError: the download failed (offline), in the one paragraph every dataset uses.
    """
    import keras

    path = Path(
        download(
            "jena",
            [(URL, ARCHIVE)],
            f"run with --set data.source=file --set data.path=/path/to/{CSV_NAME} (the zip works too)",
            lambda: keras.utils.get_file(ARCHIVE, URL, extract=True),
        )
    )
    if path.is_file():
        return path
    found = sorted(p for p in path.rglob("*.csv") if "__MACOSX" not in p.parts)
    if not found:
        raise DataError(
            f"The Jena archive extracted to {path} holds no CSV file. Delete that "
            f"folder and {ARCHIVE} next to it to download again."
        )
    return next((p for p in found if p.name == CSV_NAME), found[0])


# --------------------------------------------------------------------------- synthetic


def synthetic_series(rows: int, seed: int) -> np.ndarray:
    """The 14 Jena columns (float64, rows x 14), one row per 10 minutes, with a learnable signal.

    Temperature = 9 degC + a yearly cycle (+-9) + a daily cycle (+-4, warmest mid-afternoon)
    + a weather anomaly that persists for days (an AR(1) process, about half gone after a
    day) + sensor noise. The pressure carries the next hours' anomaly (a front shows in the
    barometer first), so a model that reads the window beats predicting the last
    temperature; the other columns follow from temperature and humidity as in the real data.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    hours = np.arange(rows) / ROWS_PER_HOUR
    day, year = 2 * np.pi * hours / 24, 2 * np.pi * hours / (24 * 365.25)
    # one AR(1) step per row: correlation 0.5 after a day (144 rows)
    persistence = 0.5 ** (1 / (24 * ROWS_PER_HOUR))
    drive = lfilter([1.0], [1.0, -persistence], rng.normal(0, 0.35, rows + 36))
    anomaly = drive[36:]
    pressure_signal = drive[:rows]  # leads the temperature anomaly by 6 hours (36 rows)
    temperature = (
        9 - 9 * np.cos(year) - 4 * np.cos(day - 2 * np.pi * 15 / 24) + anomaly + rng.normal(0, 0.3, rows)
    )
    pressure = 989 - 1.5 * pressure_signal + rng.normal(0, 0.5, rows)
    humidity = np.clip(
        76 + 12 * np.cos(day - 2 * np.pi * 15 / 24) - 2 * anomaly + rng.normal(0, 5, rows), 12, 100
    )
    vp_max = 6.1078 * np.exp(17.27 * temperature / (temperature + 237.3))
    vp_act = vp_max * humidity / 100
    dew = 237.3 * np.log(vp_act / 6.1078) / (17.27 - np.log(vp_act / 6.1078))
    wind = rng.gamma(2.0, 1.1, rows)
    columns = {
        "p (mbar)": pressure,
        "T (degC)": temperature,
        "Tpot (K)": temperature + 273.15 + 0.08 * (1000 - pressure),
        "Tdew (degC)": dew,
        "rh (%)": humidity,
        "VPmax (mbar)": vp_max,
        "VPact (mbar)": vp_act,
        "VPdef (mbar)": vp_max - vp_act,
        "sh (g/kg)": 622 * vp_act / pressure,
        "H2OC (mmol/mol)": 1000 * vp_act / pressure,
        "rho (g/m**3)": pressure * 100 / (287.05 * (temperature + 273.15)) * 1000,
        "wv (m/s)": wind,
        "max. wv (m/s)": wind * rng.uniform(1.2, 2.0, rows),
        "wd (deg)": rng.uniform(0, 360, rows),
    }
    return np.column_stack([columns[name] for name in COLUMNS])


def synthetic_frame(rows: int, seed: int) -> Any:
    """:func:`synthetic_series` as a pandas DataFrame in the real CSV's layout, ``Date Time``
    first (``01.01.2009 00:10:00``, every 10 minutes): for writing test and benchmark files."""
    import pandas as pd

    times = pd.date_range("2009-01-01 00:10:00", periods=rows, freq="10min")
    frame = pd.DataFrame(synthetic_series(rows, seed), columns=list(COLUMNS))
    frame.insert(0, TIME_COLUMN, times.strftime("%d.%m.%Y %H:%M:%S"))
    return frame


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Windows:
    """How a series becomes (window, target) samples, as DLwP does.

    A window is ``sequence_length`` rows taken every ``sampling_rate`` rows; its target is
    the temperature ``horizon_hours`` after the window's last row.
    """

    sequence_length: int = 120
    sampling_rate: int = 6
    horizon_hours: int = 24

    @property
    def span(self) -> int:
        """Rows from a window's first row to its last: ``sampling_rate * (sequence_length - 1)``."""
        return self.sampling_rate * (self.sequence_length - 1)

    @property
    def delay(self) -> int:
        """Rows from a window's first row to its target (DLwP's
        ``sampling_rate * (sequence_length + 24 - 1)`` for hourly sampling)."""
        return self.span + self.horizon_hours * ROWS_PER_HOUR

    def count(self, rows: int, last: bool) -> int:
        """Windows in a split of ``rows`` rows, as DLwP cuts them: the training and validation
        targets may run into the next split; the test windows come from the series without its
        last ``delay`` rows (DLwP's ``raw_data[:-delay]``), so every test target lies inside it."""
        return rows - self.span - (self.delay if last else 0)


def check_windows(data: ArrayDataset, windows: Windows, setting: str) -> dict[str, int]:
    """The number of windows in each split.

    Raises:
        ConfigError: a split too short for one window; the message gives its rows and the
            longest ``sequence_length`` that fits.
    """
    sizes = {"train": len(data.x_train), "validation": len(data.x_val), "test": len(data.x_test)}
    counts = {}
    for split, rows in sizes.items():
        last = split == "test"
        counts[split] = windows.count(rows, last=last)
        if counts[split] < 1:
            needed = rows - counts[split] + 1
            fitting = [
                length
                for length in range(windows.sequence_length - 1, 0, -1)
                if replace(windows, sequence_length=length).count(rows, last=last) >= 1
            ]
            advice = (
                f"sequence_length <= {fitting[0]}, a smaller sampling_rate"
                if fitting
                else "a shorter horizon_hours"
            )
            raise ConfigError(
                f"{setting}.sequence_length={windows.sequence_length} (every "
                f"{windows.sampling_rate} rows, target {windows.horizon_hours} h later) does not fit "
                f"the {split} split's {rows} rows: one window needs {needed} rows"
                + (
                    f" (test windows are cut from the split without its last {windows.delay} "
                    "rows, which hold their targets, as in DLwP)"
                    if last
                    else ""
                )
                + f". Use {advice}, or more rows."
            )
    return counts


def split_arrays(data: ArrayDataset, split: str, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
    """The rows and aligned targets of one split: ``targets[i]`` is the temperature
    ``windows.delay`` rows after row ``i`` (the rows are a view; the targets a 1-D slice).

    The training and validation targets continue into the next split (as DLwP's
    ``temperature[delay:]`` does); the test targets stop at the end of the series.
    """
    order = ["train", "val", "test"]
    xs = [data.x_train, data.x_val, data.x_test]
    ys = [data.y_train, data.y_val, data.y_test]
    index = order.index(split)
    temperature = np.concatenate(ys[index:]) if index < 2 else ys[index]
    rows = len(xs[index]) if index < 2 else len(xs[index]) - windows.delay
    return xs[index][:rows], temperature[windows.delay : windows.delay + rows]


def window_dataset(
    data: ArrayDataset,
    split: str,
    windows: Windows,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
) -> Any:
    """Batched ``tf.data`` (window, target) pairs of one split, cut on the fly from its rows.

    Window ``i`` holds rows ``i, i + rate, ..., i + span`` (standardized) and its target is
    the temperature (degC) ``horizon_hours`` after row ``i + span``: exactly the windows of
    ``keras.utils.timeseries_dataset_from_array`` over the same rows (a test checks it).
    The window starts are shuffled (afresh every epoch) and batched first, then one
    ``tf.gather`` per batch cuts the (batch, sequence_length) rows, where Keras's function
    gathers window by window: benchmarks/bench_jena_pipeline.py measured this ~20x faster
    at the same memory. No window is ever stored beyond the batch being read.
    """
    import tensorflow as tf

    inputs, targets = split_arrays(data, split, windows)
    count = len(inputs) - windows.span
    rows, goals = tf.constant(inputs), tf.constant(targets[:count])
    offsets = tf.range(0, windows.span + 1, windows.sampling_rate, dtype=tf.int64)
    starts = tf.data.Dataset.range(count)
    if shuffle:
        starts = starts.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return (
        starts.batch(batch_size)
        .map(
            lambda first: (tf.gather(rows, first[:, None] + offsets), tf.gather(goals, first)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )  # cut the next batches while the model trains


def window_splits(
    rows: ArrayDataset,
    windows: Windows,
    batch_size: int | None,
    shuffle: bool = False,
    seed: int | None = None,
    setting: str = "model.window",
) -> BatchedDataset:
    """Every split's windows (:func:`window_dataset`) as the dataset a forecaster trains on.

    Args:
        batch_size: windows per batch (None: all training windows in one batch).
        shuffle: reshuffle the training windows every epoch, from ``seed``.
        setting: the config key of the window settings, for the message of a split too short.

    Raises:
        ConfigError: a split too short for one window (:func:`check_windows`).
    """
    counts = check_windows(rows, windows, setting)
    batch_size = batch_size or counts["train"]
    return BatchedDataset(
        rows=rows,
        train=window_dataset(rows, "train", windows, batch_size, shuffle=shuffle, seed=seed),
        val=window_dataset(rows, "val", windows, batch_size),
        test=window_dataset(rows, "test", windows, batch_size),
        train_samples=counts["train"],
        val_samples=counts["validation"],
        test_samples=counts["test"],
        input_shape=(windows.sequence_length, rows.x_train.shape[1]),
        extra={"window": {**asdict(windows), "delay_rows": windows.delay}},
    )


def last_value_predictions(data: ArrayDataset, split: str, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
    """The common-sense baseline over one split's windows, vectorized (no window is built).

    Returns:
        ``(predicted, true)`` in degC: each window's last temperature and its target.
    """
    inputs, targets = split_arrays(data, split, windows)
    count = len(inputs) - windows.span
    column, mean, std = (
        data.extra["target_index"],
        data.extra["target_train_mean"],
        data.extra["target_train_std"],
    )
    last = inputs[windows.span : windows.span + count, column].astype(np.float64) * std + mean
    return last, targets[:count].astype(np.float64)
