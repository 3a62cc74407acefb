"""What the modelling exercises' checks do with each training run: score it, free it."""

from __future__ import annotations

from typing import Any

import numpy as np


def validation_scores(model: Any, data: Any) -> tuple[float, np.ndarray]:
    """F1 of "bottle" (class 1) on the validation images, and the confusion matrix."""
    from wastelab import metrics, training

    predicted = np.argmax(training.predict_proba(model, data.x_val), axis=1)
    f1 = metrics.binary_report(data.y_val, predicted)["f1"]
    return f1, metrics.confusion_matrix(data.y_val, predicted)


def forget(result: Any) -> None:
    """Free a finished run's model: keeps memory flat over many runs."""
    import keras

    del result.model
    keras.backend.clear_session()
