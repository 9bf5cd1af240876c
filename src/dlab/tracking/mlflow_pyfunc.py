"""Loading a dlab model for inference, in dlab and as MLflow's ``python_function``.

A model that uses one of dlab's own Keras layers (``dlab>SparseInputDense`` of the
multi-hot MLPs, ``dlab>BackbonePreprocess`` of transfer learning) cannot be loaded by
MLflow's ``mlflow.keras`` loader: Keras in safe mode knows those classes only once dlab
has registered them. Such a model's MLmodel names this module as its pyfunc
``loader_module``, and MLflow calls :func:`_load_pyfunc` (the name its loaders must
have) wherever the model is loaded or served with dlab installed. Models of Keras's own
layers keep ``mlflow.keras``, which needs only Keras.

Models are loaded without their training configuration (``compile=False``): predicting
needs no loss or metric, and dlab's losses live above this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlab.runtime.tfenv import prepare_environment

MODEL_FILE = "model.keras"


def load_for_inference(path: str | Path) -> Any:
    """A Keras model file loaded in safe mode, with dlab's layers registered, uncompiled."""
    prepare_environment()
    import keras

    import dlab.models.sparse_dense  # noqa: F401 - registers SparseInputDense; imports Keras
    import dlab.models.transfer  # noqa: F401 - registers BackbonePreprocess

    return keras.models.load_model(path, safe_mode=True, compile=False)


def quiet_wrapper(model: Any) -> Any:
    """The model as MLflow's Keras pyfunc wraps it, predicting without a progress bar."""
    from mlflow.keras.load import KerasModelWrapper

    class QuietKerasModel(KerasModelWrapper):
        def get_model_call_method(self) -> Any:
            return lambda data: self.model.predict(data, verbose=0)

    return QuietKerasModel(model, signature=None)


def _load_pyfunc(path: str) -> Any:
    """MLflow's entry point: the model folder's ``model.keras`` as a pyfunc model."""
    return quiet_wrapper(load_for_inference(Path(path) / MODEL_FILE))
