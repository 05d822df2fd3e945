"""What `Model.compile` makes of its `loss` and `metrics` arguments.

`CompileLoss` turns a loss (name, function or `Loss`; a list or dict of them for several
outputs; `loss_weights`) into one scalar per batch. `CompileMetrics` resolves the metric
identifiers once the first batch shows the shapes of targets and predictions (`"accuracy"`
becomes binary, categorical or sparse categorical accuracy, as Keras decides), then updates and
reports them. Both name per-output entries after the outputs (`dense_1_loss`,
`dense_1_accuracy`), as Keras.

Example:
    >>> loss = CompileLoss("sparse_categorical_crossentropy", None, ["out"])
    >>> float(loss(dtf.constant([1]), dtf.constant([[0.5, 0.5]])))  # doctest: +ELLIPSIS
    0.69...
"""

from __future__ import annotations

from dtf import nest
from dtf.keras import losses as losses_module
from dtf.keras import metrics as metrics_module
from dtf.keras.metrics import Metric
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.math_ops import add, cast, multiply

__all__ = ["CompileLoss", "CompileMetrics", "metric_results"]


def _per_output(spec, output_names, what):
    """Maps a compile argument onto the outputs: one entry per output (None where absent)."""
    n = len(output_names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in output_names]
        if unknown:
            raise ValueError(f"compile(): {what} names outputs {unknown} that the model does "
                             f"not have; its outputs are {output_names}.")
        return [spec.get(name) for name in output_names]
    if isinstance(spec, (list, tuple)) and n > 1:
        if len(spec) != n:
            raise ValueError(f"compile(): {what} has {len(spec)} entries but the model has {n} "
                             f"outputs ({output_names}). Give one per output, or a dict keyed "
                             "by output name.")
        return list(spec)
    if isinstance(spec, (list, tuple)) and n == 1 and what == "loss":
        if len(spec) != 1:
            raise ValueError(f"compile(): {what} has {len(spec)} entries but the model has one "
                             "output.")
        return list(spec)
    return [spec] * n


def _loss_name(loss):
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return name or type(loss).__name__


class CompileLoss:
    """The compiled loss: `__call__(y_true, y_pred, sample_weight)` -> scalar (the weighted sum
    over outputs), with each output's last value in `per_output` for the logs."""

    def __init__(self, loss, loss_weights, output_names):
        self.output_names = list(output_names)
        self.config = loss
        self.loss_weights_config = loss_weights
        resolved = []
        for entry in _per_output(loss, self.output_names, "loss"):
            resolved.append(None if entry is None else losses_module.get(entry))
        self.losses = resolved
        if loss_weights is None:
            self.weights = [1.0] * len(self.output_names)
        else:
            self.weights = [1.0 if w is None else float(w) for w in
                            _per_output(loss_weights, self.output_names, "loss_weights")]
        self.per_output = {}

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        if len(self.output_names) == 1:
            ys_true, ys_pred, sws = [y_true], [y_pred], [sample_weight]
        else:
            ys_true = _match(y_true, self.output_names, "targets")
            ys_pred = _match(y_pred, self.output_names, "predictions")
            sws = _match(sample_weight, self.output_names, "sample weights") \
                if isinstance(sample_weight, (list, tuple, dict)) else \
                [sample_weight] * len(self.output_names)
        total = None
        self.per_output = {}
        for name, fn, weight, yt, yp, sw in zip(self.output_names, self.losses, self.weights,
                                                ys_true, ys_pred, sws):
            if fn is None or yt is None:
                continue
            value = _call_loss(fn, yt, yp, sw)
            if len(self.output_names) > 1:
                self.per_output[f"{name}_loss"] = value
            if weight != 1.0:
                value = multiply(value, weight)
            total = value if total is None else add(total, value)
        if regularization_losses:
            extra = regularization_losses[0]
            for r in regularization_losses[1:]:
                extra = add(extra, r)
            total = extra if total is None else add(total, cast(extra, total.dtype))
        if total is None:
            total = convert_to_tensor(0.0)
        return total

    def get_config(self):
        from dtf.keras.saving import serialization

        return {"loss": serialization.serialize_keras_object(self.config),
                "loss_weights": self.loss_weights_config}


def _call_loss(fn, y_true, y_pred, sample_weight):
    if isinstance(fn, losses_module.Loss):
        return fn(y_true, y_pred, sample_weight=sample_weight)
    # a plain function: per-sample values, averaged as Keras' LossFunctionWrapper does
    return losses_module.LossFunctionWrapper(fn)(y_true, y_pred, sample_weight=sample_weight)


def _match(values, names, what):
    if isinstance(values, dict):
        return [values.get(n) for n in names]
    flat = nest.flatten(values) if isinstance(values, (list, tuple)) else [values]
    if len(flat) != len(names):
        raise ValueError(f"The model has {len(names)} outputs ({names}) but the data gives "
                         f"{len(flat)} {what}.")
    return flat


_ACCURACY_NAMES = ("accuracy", "acc")
_CROSSENTROPY_NAMES = ("crossentropy", "ce")


def _loss_kind(loss):
    """'binary', 'categorical', 'sparse' or None: what the loss says about the targets."""
    name = (getattr(loss, "name", None) or getattr(loss, "__name__", "") or "").lower()
    cls = type(loss).__name__.lower()
    for text in (name, cls):
        if "sparse_categorical" in text or "sparsecategorical" in text:
            return "sparse"
        if "binary" in text:
            return "binary"
        if "categorical" in text:
            return "categorical"
    return None


def _resolve_metric(identifier, y_true, y_pred, loss, output_name, multi):
    if isinstance(identifier, str) and identifier in _ACCURACY_NAMES + _CROSSENTROPY_NAMES:
        kind = _loss_kind(loss)
        if kind is None:
            pred_last = y_pred.shape[-1] if y_pred.shape.rank else None
            true_rank = y_true.shape.rank
            if pred_last == 1:
                kind = "binary"
            elif true_rank is not None and (true_rank < y_pred.shape.rank
                                            or (y_true.shape.rank and y_true.shape[-1] == 1)):
                kind = "sparse"
            else:
                kind = "categorical"
        if identifier in _ACCURACY_NAMES:
            cls = {"binary": metrics_module.BinaryAccuracy,
                   "categorical": metrics_module.CategoricalAccuracy,
                   "sparse": metrics_module.SparseCategoricalAccuracy}[kind]
        else:
            cls = {"binary": metrics_module.BinaryCrossentropy,
                   "categorical": metrics_module.CategoricalCrossentropy,
                   "sparse": metrics_module.SparseCategoricalCrossentropy}[kind]
        name = identifier
        metric = cls(name=f"{output_name}_{name}" if multi else name)
        return metric
    metric = metrics_module.get(identifier)
    if isinstance(identifier, str) and isinstance(metric, Metric):
        metric.name = identifier  # Keras logs a metric given by name under that name ("mae")
    if not isinstance(metric, Metric):
        fn = metric
        name = getattr(fn, "__name__", "metric")
        metric = metrics_module.MeanMetricWrapper(fn, name=f"{output_name}_{name}" if multi
                                                  else name)
    elif multi and not metric.name.startswith(f"{output_name}_"):
        metric.name = f"{output_name}_{metric.name}"
    return metric


def metric_results(metrics) -> dict:
    """`{name: result}` of `metrics`; a metric whose result is a dict (the compiled metrics)
    contributes its entries."""
    out = {}
    for metric in metrics:
        value = metric.result()
        if isinstance(value, dict):
            out.update(value)
        else:
            out[metric.name] = value
    return out


class CompileMetrics(Metric):
    """The compiled metrics: one Metric whose `update_state(y_true, y_pred, sample_weight)`
    updates every compiled metric and whose `result()` is a dict of their results. Built on
    the first update, when the shapes of targets and predictions are known."""

    def __init__(self, metrics, weighted_metrics, output_names, loss=None):
        super().__init__(name="compile_metrics")
        self.output_names = list(output_names)
        self._metrics_config = metrics
        self._weighted_config = weighted_metrics
        self._losses = loss.losses if isinstance(loss, CompileLoss) else \
            [None] * len(self.output_names)
        self._built = False
        self._per_output = []  # [(output index, metric, weighted)]

    def _specs(self, config):
        if config is None:
            return [[] for _ in self.output_names]
        if isinstance(config, dict):
            out = _per_output(config, self.output_names, "metrics")
        elif isinstance(config, (list, tuple)) and len(self.output_names) > 1 and config and \
                all(isinstance(c, (list, tuple)) or c is None for c in config):
            out = _per_output(list(config), self.output_names, "metrics")
        else:
            out = [config] * len(self.output_names)
        return [[] if e is None else (list(e) if isinstance(e, (list, tuple)) else [e])
                for e in out]

    def build(self, y_true, y_pred):
        multi = len(self.output_names) > 1
        ys_true = [y_true] if not multi else _match(y_true, self.output_names, "targets")
        ys_pred = [y_pred] if not multi else _match(y_pred, self.output_names, "predictions")
        for weighted, config in ((False, self._metrics_config), (True, self._weighted_config)):
            for i, ids in enumerate(self._specs(config)):
                for identifier in ids:
                    metric = _resolve_metric(identifier, ys_true[i], ys_pred[i],
                                             self._losses[i], self.output_names[i], multi)
                    if weighted and not multi and isinstance(identifier, str):
                        metric.name = f"weighted_{metric.name}"
                    self._per_output.append((i, metric, weighted))
        self._built = True

    @property
    def metrics(self):
        return [m for _, m, _ in self._per_output]

    @property
    def variables(self):
        return [v for m in self.metrics for v in m.variables]

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self._built:
            self.build(y_true, y_pred)
        if not self._per_output:
            return
        multi = len(self.output_names) > 1
        ys_true = [y_true] if not multi else _match(y_true, self.output_names, "targets")
        ys_pred = [y_pred] if not multi else _match(y_pred, self.output_names, "predictions")
        if multi and isinstance(sample_weight, (list, tuple, dict)):
            sws = _match(sample_weight, self.output_names, "sample weights")
        else:
            sws = [sample_weight] * len(self.output_names)
        for i, metric, weighted in self._per_output:
            if ys_true[i] is None:
                continue
            metric.update_state(ys_true[i], ys_pred[i], sample_weight=sws[i] if weighted
                                else None)

    def result(self):
        return metric_results(self.metrics)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def get_config(self):
        from dtf.keras.saving import serialization

        return {"metrics": serialization.serialize_keras_object(self._metrics_config),
                "weighted_metrics": serialization.serialize_keras_object(self._weighted_config)}
