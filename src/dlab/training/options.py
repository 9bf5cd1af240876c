"""``train`` settings as Keras objects: optimizers, schedules, losses, metrics and callbacks by
name or by reference to the user's code, checked against their real signatures before training.

A config names a Keras class (``adamw``, ``categorical_focal_crossentropy``, ``auc``) or the
user's own object (``losses.py:my_loss``, ``mypkg.callbacks:Logger``, imported through
:mod:`dlab.usercode`), with keyword arguments. Every argument is checked against the
constructor's signature (``inspect.signature``, following ``**kwargs`` up to the base class
that takes them) and an unknown one is refused with the arguments that exist and the closest
names, as a :class:`~dlab.errors.ConfigError` (exit 2).

:func:`check_train_options` runs every check; :func:`dlab.training.compile.build_metrics`
calls it, which :meth:`dlab.framework.recipes.KerasExperiment.prepare` does before the run
directory exists, so a bad setting never starts a run. This module is on the training path only:
it imports Keras at its top.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from dlab.config.project import find_project
from dlab.config.schema import LOSS_ALIASES, NOT_OPTIMIZERS
from dlab.data.checks.health import split_targets
from dlab.errors import ConfigError, did_you_mean
from dlab.training.losses import CLASS_METRICS, LOSSES, METRICS, FunctionLoss, ProbabilitySparseCrossentropy
from dlab.usercode import resolve_object

if TYPE_CHECKING:
    from dlab.config import OptimizerConfig, TrainConfig
    from dlab.config.schema import CallbackSpec, MetricSpec

_LIBRARIES = {"keras", "tensorflow", "tf_keras", "jax", "flax", "torch", "builtins", "abc", "typing"}


# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Arguments:
    """The keyword arguments a class or function takes, from its signature.

    Attributes:
        names: every argument that can be given by keyword, in signature order.
        required: those without a default (of the constructor itself).
        open: it also keeps arbitrary keywords (``**kwargs`` of the user's own code).
    """

    names: tuple[str, ...]
    required: tuple[str, ...]
    open: bool


def arguments_of(target: Any, skip: int = 0) -> Arguments:
    """The keyword arguments of ``target`` (a class: its constructor; a function: itself).

    A class whose ``__init__`` passes ``**kwargs`` on is followed up its bases (Keras's
    ``AdamW(**kwargs)`` -> ``Adam`` -> ``BaseOptimizer``, whose named arguments are the
    optimizer's common ones); ``**kwargs`` that the user's own class keeps makes it ``open``.

    Args:
        skip: leading positional parameters that are not configured (``y_true, y_pred``).
    """
    names: list[str] = []
    required: list[str] = []
    if not inspect.isclass(target):
        found = _collect(_signature(target), skip, names, required, first=True)
        return Arguments(tuple(names), tuple(required), open=found is None or found.open)
    first = True
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        found = _collect(_signature(init), 1, names, required, first)  # 1: self
        first = False
        if found is not None:  # ends here: no **kwargs, or the user's own **kwargs
            return Arguments(tuple(names), tuple(required), open=found.open)
        if klass.__module__.split(".")[0] not in _LIBRARIES:
            return Arguments(tuple(names), tuple(required), open=True)
    return Arguments(tuple(names), tuple(required), open=False)


def _signature(function: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: Python checks it
        return None


def _collect(
    signature: inspect.Signature | None, skip: int, names: list[str], required: list[str], first: bool
) -> Arguments | None:
    """Add a signature's keyword arguments; None where it passes ``**kwargs`` on to a base."""
    if signature is None:
        return Arguments((), (), open=True)
    parameters = list(signature.parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    skipped = 0
    varkw = False
    for parameter in parameters:
        if skipped < skip and parameter.kind in positional:
            skipped += 1
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            varkw = True
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            if first and parameter.default is inspect.Parameter.empty:
                required.append(parameter.name)
        elif parameter.name not in names:
            names.append(parameter.name)
            if first and parameter.default is inspect.Parameter.empty:
                required.append(parameter.name)
    return None if varkw else Arguments((), (), open=False)


def check_arguments(
    target: Any,
    given: Mapping[str, Any],
    *,
    key: str,
    what: str,
    skip: int = 0,
    supplied: tuple[str, ...] = (),
    elsewhere: Mapping[str, list[str]] | None = None,
) -> None:
    """Refuse an argument ``target`` does not take, or a required one that is missing.

    Args:
        key: the config key the arguments sit under (``train.optimizer``).
        what: how the message names the object (``adamw (keras.optimizers.AdamW)``).
        skip: leading positional parameters dlab passes itself (``y_true, y_pred``).
        supplied: arguments dlab gives itself (``from_logits``): not required from the config.
        elsewhere: argument -> other objects that take it, for the hint.

    Raises:
        ConfigError: naming the key, the argument, the arguments that exist and the closest.
    """
    accepted = arguments_of(target, skip)
    if not accepted.open:
        for name in given:
            if name in accepted.names:
                continue
            others = (elsewhere or {}).get(name)
            hint = f" ({name} is an argument of {', '.join(others)}.)" if others else ""
            raise ConfigError(
                f"Unknown argument '{key}.{name}': {what} takes no argument {name!r}.{hint} Its "
                f"arguments: {', '.join(accepted.names) or '(none)'}.{did_you_mean(name, accepted.names)}"
            )
    missing = [name for name in accepted.required if name not in given and name not in supplied]
    if missing:
        raise ConfigError(
            f"{key}: {what} needs the argument{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; add {'them' if len(missing) > 1 else 'it'} under {key}."
        )


def snake_case(name: str) -> str:
    """A class name as Keras's snake-case identifiers spell it (``KLDivergence`` -> ``kl_divergence``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# --------------------------------------------------------------------------- the user's code


def code_folders() -> list[Path]:
    """Where a relative ``file.py:NAME`` is looked up before the working folder: the project's root."""
    project = find_project()
    return [project.root] if project is not None else []


def user_object(reference: str, *, what: str) -> Any:
    """The object ``reference`` (``module:NAME`` / ``file.py:NAME``) names, imported now.

    Raises:
        ConfigError: the module is missing, fails to import (the user's traceback is shown)
            or lacks the name (see :func:`dlab.usercode.resolve_object`).
    """
    try:
        return resolve_object(reference, what=what, base_dirs=code_folders())
    except ConfigError as error:  # name the config key in every message (an import's traceback too)
        if str(error).startswith(what):
            raise
        raise ConfigError(f"{what} ({reference}): {error}") from None


def is_reference(name: str) -> bool:
    """True for a reference to the user's code (``module:NAME``), not a Keras name."""
    return ":" in name


# --------------------------------------------------------------------------- optimizers


def optimizer_classes() -> dict[str, type]:
    """Every optimizer of ``keras.optimizers`` by its lower-cased class name (``adamw``: AdamW)."""
    return {
        name.lower(): value
        for name, value in vars(keras.optimizers).items()
        if isinstance(value, type)
        and issubclass(value, keras.optimizers.Optimizer)
        and name.lower() not in NOT_OPTIMIZERS
    }


def optimizer_class(name: str) -> type:
    """The Keras optimizer class ``train.optimizer.name`` names.

    Raises:
        ConfigError: no such optimizer (the names that exist, the closest).
    """
    classes = optimizer_classes()
    if name not in classes:
        raise ConfigError(
            f"Invalid value for 'train.optimizer.name': unknown optimizer {name!r}; Keras has "
            f"{', '.join(sorted(classes))}.{did_you_mean(name, classes)}"
        )
    return classes[name]


def optimizer_arguments(config: OptimizerConfig, steps_per_epoch: int = 1) -> dict[str, Any]:
    """The optimizer's constructor arguments: the learning rate (or its schedule), the fields
    that are set, and every other key of ``train.optimizer`` as given."""
    arguments: dict[str, Any] = {"learning_rate": learning_rate(config, steps_per_epoch)}
    for name in ("momentum", "clipnorm", "global_clipnorm"):
        if getattr(config, name) is not None:
            arguments[name] = getattr(config, name)
    return {**arguments, **config.arguments}


def check_optimizer(config: OptimizerConfig) -> None:
    """Check ``train.optimizer`` against the optimizer's signature, then build it once.

    Raises:
        ConfigError: an unknown optimizer or argument, or a value Keras refuses.
    """
    klass = optimizer_class(config.name)
    given = optimizer_arguments(config)
    check_arguments(
        klass, given, key="train.optimizer", what=f"{config.name} (keras.optimizers.{klass.__name__})"
    )
    try:
        klass(**given)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"train.optimizer: keras.optimizers.{klass.__name__} refused these settings: {error}"
        ) from None


# --------------------------------------------------------------------------- schedules


def learning_rate(config: OptimizerConfig, steps_per_epoch: int):
    """The optimizer's learning rate: a number, or a schedule whose epochs are counted in steps.

    Every step-valued argument of a schedule is given in epochs and multiplied by
    ``steps_per_epoch`` here (``decay_epochs`` -> ``decay_steps``). Piecewise-constant boundaries
    become the last step of their epoch, so ``boundaries: [10]`` trains epochs 1-10 at
    ``values[0]`` and epoch 11 on at ``values[1]``.
    """
    schedule = config.schedule
    if schedule is None:
        return config.learning_rate

    schedules = keras.optimizers.schedules
    if schedule.name == "piecewise_constant":
        return schedules.PiecewiseConstantDecay(
            boundaries=[max(0, math.ceil(epochs * steps_per_epoch) - 1) for epochs in schedule.boundaries],
            values=[float(value) for value in schedule.values],
        )
    arguments = {}
    for key, value in schedule.model_dump(exclude={"name"}).items():
        if key.endswith("_epochs"):  # decay_epochs -> decay_steps, warmup_epochs -> warmup_steps
            arguments[key.removesuffix("_epochs") + "_steps"] = value * steps_per_epoch
        else:
            arguments[key] = value
    try:
        keras_class = getattr(schedules, SCHEDULE_CLASSES[schedule.name])
    except KeyError:
        raise ConfigError(f"Unknown schedule {schedule.name!r} in train.optimizer.schedule.") from None
    return keras_class(config.learning_rate, **arguments)


SCHEDULE_CLASSES = {
    "inverse_time_decay": "InverseTimeDecay",
    "exponential_decay": "ExponentialDecay",
    "polynomial_decay": "PolynomialDecay",
    "cosine_decay": "CosineDecay",
    "cosine_decay_restarts": "CosineDecayRestarts",
}
"""Each schedule's keras.optimizers.schedules class; its config's fields are the class's arguments,
with every ``*_epochs`` field given for the ``*_steps`` argument."""


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float | None:
    """The rate the optimizer's next step uses (a schedule's value at its step count)."""
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):  # an optimizer of the user's without one
        return None


# --------------------------------------------------------------------------- losses


def keras_loss_classes() -> dict[str, type]:
    """Keras's loss classes by every name a config may give them: the class name, its snake-case
    name (the name of the matching function) and ``keras.losses.get``'s aliases (``mse``)."""
    found: dict[str, type] = {}
    for name, value in vars(keras.losses).items():
        is_loss = isinstance(value, type) and issubclass(value, keras.losses.Loss)
        if is_loss and value is not keras.losses.Loss:
            found[name] = value
            found[snake_case(name)] = value
    for alias, name in LOSS_ALIASES.items():
        if name in found:
            found[alias] = found[name]
    return found


def _argument_owners(classes: dict[str, type]) -> dict[str, list[str]]:
    """argument -> the snake-case names of the classes that take it (for the hint)."""
    owners: dict[str, list[str]] = {}
    for name, klass in classes.items():
        if name != snake_case(klass.__name__) or name[:1].isupper():
            continue
        for argument in arguments_of(klass).names:
            owners.setdefault(argument, []).append(name)
    return owners


def build_loss(config: TrainConfig):
    """The Keras loss ``train.loss`` names, with its arguments and ``train.from_logits``.

    dlab's own handling stays: sparse categorical cross-entropy of probabilities on PyTorch is
    :class:`~dlab.training.losses.ProbabilitySparseCrossentropy` (Keras's kernel fails per pixel
    there), ``half_squared_error`` is dlab's, and a Keras loss named without arguments whose
    class takes no ``from_logits`` (mean_squared_error, huber ...) is Keras's function, as before.
    """
    name, arguments = config.loss_name, config.loss_arguments
    if (
        name == "sparse_categorical_crossentropy"
        and not config.from_logits
        and keras.backend.backend() == "torch"  # Keras's kernel fails per pixel there
        and set(arguments) <= {"reduction", "name", "dtype"}
    ):
        return ProbabilitySparseCrossentropy(**arguments)
    if name in LOSSES:
        return LOSSES[name]
    if is_reference(name):
        target = user_object(name, what="train.loss")
        if inspect.isclass(target):
            return target(**arguments)
        if arguments:
            return FunctionLoss(target, **arguments)
        return target
    klass = keras_loss_classes().get(name)
    if klass is not None:
        takes_logits = "from_logits" in arguments_of(klass).names
        if arguments or takes_logits:
            return klass(**arguments, **({"from_logits": config.from_logits} if takes_logits else {}))
    return keras.losses.get(name)


def check_loss(config: TrainConfig) -> None:
    """Check ``train.loss`` and its arguments, then build it once.

    Raises:
        ConfigError: an unknown loss or argument (the arguments that exist, the closest, and
            the losses that take it), a loss of the user's that does not import or is no
            loss, or a value Keras refuses.
    """
    name, arguments = config.loss_name, config.loss_arguments
    if name in LOSSES:
        if arguments:
            raise ConfigError(f"train.loss: dlab's {name} takes no arguments; write train.loss: {name}.")
        return
    if is_reference(name):
        target = user_object(name, what="train.loss")
        if inspect.isclass(target) and not issubclass(target, keras.losses.Loss):
            raise ConfigError(
                f"train.loss: {name} is a class but not a keras.losses.Loss; give a Loss subclass "
                "or a function loss(y_true, y_pred)."
            )
        if not inspect.isclass(target) and not callable(target):
            raise ConfigError(
                f"train.loss: {name} is a {type(target).__name__}, not a loss: give a function "
                "loss(y_true, y_pred) or a keras.losses.Loss subclass."
            )
        if isinstance(target, keras.losses.Loss) and arguments:
            raise ConfigError(f"train.loss: {name} is already a loss object; it takes no arguments here.")
        if not isinstance(target, keras.losses.Loss):
            check_arguments(
                target,
                arguments,
                key="train.loss",
                what=name,
                skip=0 if inspect.isclass(target) else 2,
            )
    else:
        classes = keras_loss_classes()
        klass = classes.get(name)
        if klass is None:  # the schema knew it: another Keras than the one installed
            raise ConfigError(
                f"Invalid value for 'train.loss': unknown loss {name!r}."
                f"{did_you_mean(name, [n for n in classes if not n[:1].isupper()])}"
            )
        check_arguments(
            klass,
            arguments,
            key="train.loss",
            what=f"{name} (keras.losses.{klass.__name__})",
            supplied=("from_logits",),
            elsewhere=_argument_owners(classes),
        )
    try:
        build_loss(config)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"train.loss: {config.loss} cannot be built: {error}") from None


# --------------------------------------------------------------------------- metrics


def keras_metric_classes() -> dict[str, type]:
    """Keras's metric classes by class name, snake-case name and ``keras.metrics.get``'s aliases."""
    found: dict[str, type] = {}
    for name, value in vars(keras.metrics).items():
        if (
            isinstance(value, type)
            and issubclass(value, keras.metrics.Metric)
            and name not in {"Metric", "Mean", "Sum", "MeanMetricWrapper"}
        ):
            found[name] = value
            found[snake_case(name)] = value
    for alias, name in METRIC_ALIASES.items():
        if name in found:
            found[alias] = found[name]
    return found


METRIC_ALIASES = {
    "mse": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError",
    "msle": "MeanSquaredLogarithmicError",
    "bce": "BinaryCrossentropy",
}
"""The short names ``keras.metrics.get`` accepts."""


def build_metric(entry: str | MetricSpec, index: int = 0):
    """A ``train.metrics`` entry that is a reference or carries arguments, as a Keras metric.

    (A plain name goes to Keras as the string, as it always did; see
    :func:`dlab.training.compile.build_metrics`.)
    """
    name = entry if isinstance(entry, str) else entry.name
    arguments = {} if isinstance(entry, str) else entry.arguments
    if is_reference(name):
        target = user_object(name, what=f"train.metrics[{index}]")
        if inspect.isclass(target):
            return target(**arguments)
        if arguments:
            return keras.metrics.MeanMetricWrapper(target, name=target.__name__, **arguments)
        return target
    klass = keras_metric_classes().get(name)
    if klass is None:
        raise ConfigError(
            f"Unknown metric '{name}' in train.metrics: no Keras metric class has that name."
            f"{did_you_mean(name, keras_metric_classes())}"
        )
    named = inspect.signature(klass.__init__).parameters.get("name")
    if named is not None and named.default is None:  # Keras would number it (auc_1, auc_2 ...)
        arguments = {"name": snake_case(klass.__name__), **arguments}
    return klass(**arguments)


def check_metric(entry: str | MetricSpec, index: int) -> None:
    """Check a ``train.metrics`` entry given with arguments or by reference.

    Raises:
        ConfigError: an unknown metric or argument, arguments for one of dlab's metrics, or a
            reference that does not import.
    """
    name = entry if isinstance(entry, str) else entry.name
    arguments = {} if isinstance(entry, str) else entry.arguments
    key = f"train.metrics[{index}]"
    if name in METRICS or name in CLASS_METRICS:
        if arguments:
            raise ConfigError(f"{key}: dlab's metric {name} takes no arguments; write just {name}.")
        return
    if is_reference(name):
        target = user_object(name, what=key)
        check_arguments(target, arguments, key=key, what=name, skip=0 if inspect.isclass(target) else 2)
    else:
        classes = keras_metric_classes()
        klass = classes.get(name)
        if klass is None:
            names = sorted({*classes, *METRICS, *CLASS_METRICS})
            raise ConfigError(
                f"Unknown metric '{name}' in train.metrics: use a Keras metric class by name "
                f"(auc, precision, recall, f1_score, top_k_categorical_accuracy ...) or dlab's "
                f"{', '.join([*METRICS, *CLASS_METRICS])}.{did_you_mean(name, names)}"
            )
        check_arguments(klass, arguments, key=key, what=f"{name} (keras.metrics.{klass.__name__})")
    try:
        build_metric(entry, index)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key}: {entry} cannot be built: {error}") from None


# --------------------------------------------------------------------------- class weights


def check_class_weight(config: TrainConfig, num_classes: int | None) -> None:
    """``train.class_weight`` against the data: classification only, keys among its classes.

    Args:
        num_classes: the data's classes (0: a regression target); None: not known yet.
    """
    if config.class_weight is None or num_classes is None:
        return
    if num_classes < 2:
        raise ConfigError(
            "train.class_weight weighs the classes of a classification, and this data has no "
            "classes (a regression target). Remove train.class_weight."
        )
    if isinstance(config.class_weight, dict):
        unknown = sorted(key for key in config.class_weight if key >= num_classes)
        if unknown:
            raise ConfigError(
                f"train.class_weight names class {', '.join(map(str, unknown))}, and this data has "
                f"classes 0..{num_classes - 1}. Use class indices of the data."
            )


def balanced_class_weights(labels) -> dict[int, float]:
    """scikit-learn's ``balanced`` weights: n_samples / (n_classes * count) per class present.

    Args:
        labels: class indices (N,) or (N, 1), or one-hot rows (N, C).
    """
    labels = np.asarray(labels)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(-1).astype("int64")
    classes, counts = np.unique(labels, return_counts=True)
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts, strict=True)}


def training_labels(data):
    """The training split's labels of a dataset (arrays or streams that list their labels)."""
    found = split_targets(data)
    if found is None or found[0] != "classification" or "train" not in found[1]:
        raise ConfigError(
            "train.class_weight: balanced counts the classes of the training split, and this "
            "data does not list its training labels. Give the weights as {class: weight}."
        )
    return found[1]["train"]


def class_weights(config: TrainConfig, data) -> dict[int, float] | None:
    """What ``model.fit(class_weight=...)`` gets for ``train.class_weight`` (None: not set).

    A mapping is used as given (classes left out weigh 1 in Keras); ``balanced`` is
    :func:`balanced_class_weights` of the training split of ``data`` only (never validation or test).
    """
    if config.class_weight is None:
        return None
    if isinstance(config.class_weight, dict):
        return dict(config.class_weight)
    return balanced_class_weights(training_labels(data))


# --------------------------------------------------------------------------- callbacks


def callback_class(spec: CallbackSpec, index: int) -> type:
    """The callback class a ``train.callbacks`` entry names, imported.

    Raises:
        ConfigError: it does not import (the user's traceback), or is no Keras callback class.
    """
    key = f"train.callbacks[{index}].target"
    target = user_object(spec.target, what=key)
    if not inspect.isclass(target) or not issubclass(target, keras.callbacks.Callback):
        found = f"the class {target.__name__}" if inspect.isclass(target) else f"a {type(target).__name__}"
        raise ConfigError(f"{key}: {spec.target} is {found}, not a subclass of keras.callbacks.Callback.")
    return target


def check_callbacks(config: TrainConfig) -> None:
    """Import every callback of ``train.callbacks`` and check its kwargs against its constructor."""
    for index, spec in enumerate(config.callbacks):
        klass = callback_class(spec, index)
        check_arguments(klass, spec.kwargs, key=f"train.callbacks[{index}].kwargs", what=spec.target)


def user_callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    """``train.callbacks`` instantiated with their kwargs (see
    :func:`dlab.training.callbacks.config_callbacks` for where they run)."""
    callbacks = []
    for index, spec in enumerate(config.callbacks):
        klass = callback_class(spec, index)
        try:
            callbacks.append(klass(**spec.kwargs))
        except TypeError as error:
            raise ConfigError(f"train.callbacks[{index}]: {spec.target}(**kwargs) failed: {error}") from None
    return callbacks


# --------------------------------------------------------------------------- all of it


def check_train_options(config: TrainConfig, num_classes: int | None = None) -> None:
    """Check every ``train`` setting that becomes a Keras object, before anything trains.

    The optimizer and its arguments, the schedule, the loss and its arguments, metrics given
    with arguments or by reference, class weights against the data's classes, and the user's
    callbacks (imported, kwargs checked; not instantiated until training starts).

    Args:
        num_classes: the data's classes (0: regression); None before the data is loaded.

    Raises:
        ConfigError: the first problem, naming the key, what was wrong and what is allowed.
    """
    check_optimizer(config.optimizer)
    check_loss(config)
    for index, entry in enumerate(config.metrics):
        if not isinstance(entry, str) or is_reference(entry):
            check_metric(entry, index)
    check_class_weight(config, num_classes)
    check_callbacks(config)


def label_encoding(config: TrainConfig) -> str:
    """How the labels of classes reach the loss: ``one_hot`` (categorical losses), ``sparse``
    (class indices as they are) or ``column`` (a column (N, 1), as single-output models need)."""
    name = config.loss_name
    if is_reference(name):
        return "column"
    klass = keras_loss_classes().get(name)
    canonical = snake_case(klass.__name__) if klass is not None else name
    if canonical in ONE_HOT_LOSSES:
        return "one_hot"
    if canonical == "sparse_categorical_crossentropy":
        return "sparse"
    return "column"


ONE_HOT_LOSSES = ("categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge")
"""Losses that compare one-hot labels with class scores: class indices are one-hot encoded."""
