r"""Time-invariant covariates for the BTYD models: the shared machinery (private).

A covariate model scales some of its family's base parameters per customer,

.. math::

    \theta_i = \theta \exp(\sigma\, \gamma_{p}' z_{p,i}),

where :math:`z_{p,i}` is customer *i*'s row of the covariates of process
:math:`p` (``"purchase"``, ``"dropout"`` or ``"spend"``), :math:`\gamma_p`
their coefficients and :math:`\sigma = \pm 1` the sign the family's source
uses (Pareto/NBD: :math:`\alpha_i = \alpha e^{-\gamma_{purchase}'z_i}`,
:math:`\beta_i = \beta e^{-\gamma_{dropout}'z_i}`; Fader & Hardie 2007,
CLVTools). A family states this as a :class:`CovariateSpec` (its base
parameter names and its *links*: which process scales which parameter with
which sign) and provides a per-row log-likelihood that accepts per-row
parameter arrays and returns the derivatives in each of them; this module
does the rest:

* :func:`as_covariates` validates a covariate argument (matrix or dataframe)
  for a fit and :func:`prediction_covariates` for a prediction;
* :func:`make_design` combines the processes' matrices with the equality
  constraints and the L2 penalties (``reg_lambdas``);
* :func:`fit_covariates` maximises the (penalised) likelihood over the log of
  the base parameters and the coefficients (chain rule on the family's
  per-row gradient), with standard errors and the covariance of every
  parameter from the Hessian of the analytic gradient;
* :class:`CovariateModel` is the base of the fitted covariate models: it
  holds the covariate names, reads the coefficients from ``params`` and binds
  prediction covariates to per-customer parameters.

References
----------
Fader, P. S. & Hardie, B. G. S. (2007). Incorporating time-invariant
covariates into the Pareto/NBD and BG/NBD models.
http://brucehardie.com/notes/019/

Bachmann, P., Meierer, M. & Näf, J. CLVTools: Tools for customer lifetime
value estimation (R package), ``SetStaticCovariates``, ``pnbd``
(``names.cov.constr``, ``reg.lambdas``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._numeric import compress_rows
from custrel.btyd import _threads
from custrel.btyd._base import BTYDModel, RepeatPurchaseModel
from custrel.btyd._common import _as_rfm, _fit_weights, _frozen_mapping
from custrel.btyd._summary import BTYDSummary
from custrel.errors import ConvergenceError, InvalidInputError, InvalidTypeError

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Theta entries a row log-likelihood receives: floats, or per-row arrays for linked parameters.
Theta = Sequence["float | FloatArray"]
#: ``row_loglik(theta, data, gradient) -> (ll per row, d ll / d theta_k per row or None)``.
RowLogLik = Callable[[Theta, Any, bool], "tuple[FloatArray, Sequence[FloatArray] | None]"]

PROCESS_ARGUMENTS: Mapping[str, str] = {
    "purchase": "purchase_covariates",
    "dropout": "dropout_covariates",
    "spend": "covariates",
}

_FIT_MAX_ABS = 1e150  # |covariate| a fit takes: z^2 in the information matrix stays finite
_COLLINEAR_RCOND = 1e-9  # smallest/largest singular value of the standardised columns
_SUBSAMPLE = 20_000  # distinct rows above which a subsample fit gives the start
_SUBSAMPLE_SIZE = 10_000  # customers in that subsample
_CENTRAL_MAX = 200_000  # rows up to which the Hessian uses central differences
_RUNAWAY = 16.0  # |log base parameter| beyond this: no interior maximum
_COEF_RUNAWAY = 30.0  # |coefficient| beyond this: the covariate separates the data
_LOG_BOUND = 25.0


# ---------------------------------------------------------------------------
# Validation of covariate arguments
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class CovariateMatrix:
    """Validated covariates of one process (private).

    Attributes
    ----------
    names : tuple of str
        Column names (``x1..xk`` for a plain array).
    values : numpy.ndarray, shape (n, k)
        Read-only, float64, Fortran order (columns contiguous).
    """

    names: tuple[str, ...]
    values: FloatArray = attrs.field(converter=v.readonly)

    @property
    def k(self) -> int:
        return len(self.names)

    def take(self, rows: IntArray) -> CovariateMatrix:
        """The rows ``rows`` (a new matrix)."""
        return CovariateMatrix(self.names, np.asfortranarray(self.values[rows]))


def _frame_columns(value: Any, argument: str) -> tuple[list[str], list[Any]] | None:
    """Names and column objects of a dataframe-like value (pandas, polars, pyarrow), else None."""
    if isinstance(value, np.ndarray | list | tuple):
        return None
    raw_names: Any
    getter: Callable[[Any], Any]
    if isinstance(value, Mapping):  # {name: column}
        raw_names = list(value)
        getter = value.__getitem__
    elif hasattr(value, "column_names") and hasattr(value, "column"):  # pyarrow Table
        raw_names = list(value.column_names)
        getter = value.column
    elif hasattr(value, "columns") and hasattr(value, "__getitem__"):  # pandas, polars
        raw_names = list(value.columns)
        getter = value.__getitem__
    elif hasattr(value, "to_numpy") and hasattr(value, "name") and np.ndim(value) == 1:
        # a pandas/polars Series: one column named after it
        name = value.name
        return ([str(name) if name not in (None, "") else "x1"], [value])
    else:
        return None
    names: list[str] = []
    for raw in raw_names:
        if not isinstance(raw, str):
            raise InvalidTypeError(
                f"{argument} column names must be strings (they name the coefficients), "
                f"got {raw!r} ({type(raw).__name__}); rename the columns"
            )
        if raw in names:
            raise InvalidInputError(
                f"{argument} has the column name {raw!r} twice; each column names one coefficient"
            )
        names.append(raw)
    return names, [getter(n) for n in raw_names]


def _column_values(col: Any, argument: str, name: str) -> FloatArray:
    """One column as float64, refusing non-numeric data with the column's name."""
    try:
        raw = col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)
    except Exception as exc:  # a backend that cannot export (e.g. nested types)
        raise InvalidTypeError(
            f"{argument} column {name!r} cannot be read as numbers: {exc}"
        ) from None
    raw = np.asarray(raw)
    return _numeric_column(raw, argument, name)


def _numeric_column(raw: npt.NDArray[Any], argument: str, name: str) -> FloatArray:
    kind = raw.dtype.kind
    if kind in "biuf":
        return np.array(raw, dtype=np.float64)  # always a copy: never the caller's memory
    if kind == "O":
        texts = [val for val in raw.ravel()[:1000] if isinstance(val, str | bytes)]
        if not texts:
            try:
                return np.array(raw, dtype=np.float64)
            except (TypeError, ValueError):
                pass
        shown = texts[0] if texts else raw.ravel()[0] if raw.size else None
        raise InvalidTypeError(
            f"{argument} column {name!r} is not numeric (got {shown!r}); encode a category "
            "as 0/1 indicator columns, leaving one level out"
        )
    what = {"U": "text", "S": "bytes", "M": "dates", "m": "durations", "c": "complex numbers"}
    raise InvalidTypeError(
        f"{argument} column {name!r} is not numeric (dtype {raw.dtype}, "
        f"{what.get(kind, 'not real numbers')}); encode a category as 0/1 indicator columns, "
        "a date as a number"
    )


def as_covariates(
    value: Any, argument: str, n_rows: int | None, *, fitting: bool = True
) -> CovariateMatrix:
    """Validate a covariate argument: a customers x k matrix or a dataframe.

    Parameters
    ----------
    value : array_like, dataframe or mapping
        A 2-D array (or a 1-D one: a single covariate), a dataframe
        (pandas, polars, pyarrow: anything with named columns) or a mapping
        ``{name: column}``, whose names name the coefficients; plain arrays
        get ``x1..xk``.
    argument : str
        The argument's name for messages (``"purchase_covariates"``).
    n_rows : int or None
        The number of customers (rows of the summary columns); None accepts
        any number of rows.
    fitting : bool
        Also refuse constant and collinear columns (a fit cannot identify
        their coefficients); predictions skip these checks.

    Raises
    ------
    InvalidTypeError
        Non-numeric columns, column names that are not strings.
    InvalidInputError
        A row count other than ``n_rows``, missing or infinite values (naming
        row and column), duplicate names, no columns, and when fitting a
        constant column or collinear columns.
    """
    framed = _frame_columns(value, argument)
    if framed is not None:
        names, cols = framed
        if not names:
            raise InvalidInputError(
                f"{argument} has no columns; pass None for a model without these covariates"
            )
        arrays = [_column_values(c, argument, n) for n, c in zip(names, cols, strict=True)]
        for name, arr in zip(names, arrays, strict=True):
            if arr.ndim != 1:
                raise InvalidInputError(
                    f"{argument} column {name!r} must hold one number per customer, got "
                    f"shape {arr.shape}"
                )
        lengths = {a.shape[0] for a in arrays}
        if len(lengths) != 1:  # a mapping of unequal columns
            shown = ", ".join(f"{n!r} has {a.shape[0]}" for n, a in zip(names, arrays, strict=True))
            raise InvalidInputError(f"{argument} columns have different lengths: {shown}")
        mat = np.empty((arrays[0].shape[0], len(arrays)), order="F")
        for j, arr in enumerate(arrays):
            mat[:, j] = arr
    else:
        try:  # (rows of different lengths: numpy refuses them with a ValueError)
            dims = np.ndim(value)
        except ValueError:
            raise InvalidInputError(
                f"{argument} rows have different lengths; pass a customers x k matrix"
            ) from None
        if isinstance(value, str | bytes) or dims == 0:
            raise InvalidTypeError(
                f"{argument} must be a customers x k matrix or a dataframe, got "
                f"{type(value).__name__} {value!r:.60}"
            )
        raw = np.asarray(value)
        if raw.ndim == 1:
            raw = raw[:, None]
        if raw.ndim != 2:
            raise InvalidInputError(
                f"{argument} must be a customers x k matrix (2-D), got shape {raw.shape}"
            )
        if raw.shape[1] == 0:
            raise InvalidInputError(
                f"{argument} has no columns; pass None for a model without these covariates"
            )
        names = [f"x{j + 1}" for j in range(raw.shape[1])]
        mat = np.empty(raw.shape, order="F")
        for j, name in enumerate(names):
            mat[:, j] = _numeric_column(raw[:, j], argument, name)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidInputError(
            f"{argument} has the column name {dup!r} twice; each column names one coefficient"
        )
    if n_rows is not None and mat.shape[0] != n_rows:
        raise InvalidInputError(
            f"{argument} has {mat.shape[0]} rows but there are {n_rows} customers; give one "
            "row per customer, in the order of frequency, recency and T"
        )
    bad = ~np.isfinite(mat)
    if bad.any():
        i, j = v.first_bad(bad)
        raise InvalidInputError(
            f"{argument} must be finite, got {float(mat[i, j])!r} at row {i}, column "
            f"{names[j]!r}; fill or drop missing covariates before fitting"
        )
    if fitting:
        big = np.abs(mat) > _FIT_MAX_ABS
        if big.any():
            i, j = v.first_bad(big)
            raise InvalidInputError(
                f"{argument} column {names[j]!r} has {float(mat[i, j])!r} at row {i}: a fit "
                f"needs covariates within +-{_FIT_MAX_ABS:g} (their squares enter the "
                "information matrix); rescale the column (for example to thousands)"
            )
        _check_identifiable(mat, names, argument)
    return CovariateMatrix(tuple(names), mat)


def _check_identifiable(mat: FloatArray, names: list[str], argument: str) -> None:
    """Refuse constant columns (the base parameter is the intercept) and collinear ones."""
    lo = np.min(mat, axis=0)
    hi = np.max(mat, axis=0)
    const = lo == hi
    if const.any():
        j = int(np.flatnonzero(const)[0])
        raise InvalidInputError(
            f"{argument} column {names[j]!r} is constant ({float(lo[j])!r} for every customer); "
            "the model's base parameter already is the intercept, so its coefficient cannot be "
            "estimated: drop the column"
        )
    if mat.shape[1] == 1:
        return
    # standardised columns (centred: the intercept is part of the model)
    scale = hi - lo
    centred = (mat - np.mean(mat, axis=0)) / scale
    gram = centred.T @ centred / mat.shape[0]
    lam, vec = np.linalg.eigh(gram)
    if lam[0] <= _COLLINEAR_RCOND**2 * max(float(lam[-1]), 1e-300) * 1e6 or lam[0] <= 0:
        weights = np.abs(vec[:, 0])
        involved = [names[j] for j in np.flatnonzero(weights > 1e-3 * weights.max())]
        raise InvalidInputError(
            f"{argument} columns {involved!r} are collinear (together with the intercept one "
            "of them is a linear combination of the others), so their coefficients cannot be "
            "told apart: drop one of them"
        )


def prediction_covariates(
    value: Any, argument: str, names: Sequence[str], n_rows: int | None
) -> FloatArray | None:
    """Validate prediction covariates against a fitted model's covariate ``names``.

    Required exactly when ``names`` is not empty (refused otherwise). A
    dataframe must have exactly the fitted columns (any order: they are
    taken by name); a plain matrix must have ``len(names)`` columns, in the
    fitted order. ``n_rows`` (when known) is the number of customers.
    Returns the matrix (rows x k, fitted order) or None.
    """
    if not names:
        if value is not None:
            raise InvalidInputError(
                f"{argument} was given but the model has no such covariates; leave it out"
            )
        return None
    if value is None:
        raise InvalidInputError(
            f"{argument} is required: the model was fitted with covariates {list(names)!r}; "
            "pass one row per customer"
        )
    framed = _frame_columns(value, argument)
    if framed is not None:
        got = framed[0]
        missing = [n for n in names if n not in got]
        extra = [n for n in got if n not in names]
        if missing or extra:
            raise InvalidInputError(
                f"{argument} must have the fitted columns {list(names)!r}; "
                + (f"missing {missing!r}" if missing else f"unknown {extra!r}")
            )
    cov = as_covariates(value, argument, n_rows, fitting=False)
    if framed is None:
        if cov.k != len(names):
            raise InvalidInputError(
                f"{argument} has {cov.k} columns but the model has {len(names)} covariates "
                f"{list(names)!r}"
            )
        return np.ascontiguousarray(cov.values)
    order = [cov.names.index(n) for n in names]
    return np.ascontiguousarray(cov.values[:, order])


# ---------------------------------------------------------------------------
# The design: processes, constraints, penalties
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class CovariateDesign:
    """The covariates of every process, the constraints and the penalties (private).

    Attributes
    ----------
    matrices : Mapping[str, CovariateMatrix]
        Per process with covariates, in the family's process order.
    constraints : tuple of str
        Covariate names whose coefficients are equal across the two processes.
    reg_lambdas : Mapping[str, float]
        L2 penalty per process (0 where none).
    coef_names : tuple of str
        ``"<process>.<name>"`` for every coefficient, in params order.
    expand : numpy.ndarray of int
        For each coefficient, the index of its free coefficient.
    free_names : tuple of str
        The free coefficients (a constrained pair counts once, named
        ``"constr.<name>"``).
    """

    matrices: Mapping[str, CovariateMatrix]
    constraints: tuple[str, ...]
    reg_lambdas: Mapping[str, float]
    coef_names: tuple[str, ...]
    expand: IntArray
    free_names: tuple[str, ...]

    def names(self, process: str) -> tuple[str, ...]:
        mat = self.matrices.get(process)
        return () if mat is None else mat.names

    def take(self, rows: IntArray) -> CovariateDesign:
        return attrs.evolve(self, matrices={p: m.take(rows) for p, m in self.matrices.items()})


def _as_name_list(value: Any, argument: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence | set | frozenset) or isinstance(value, bytes):
        raise InvalidTypeError(
            f"{argument} must be a covariate name or a list of names, got "
            f"{type(value).__name__} {value!r:.60}"
        )
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidTypeError(f"{argument} must hold covariate names (strings), got {item!r}")
        if item in out:
            raise InvalidInputError(f"{argument} names {item!r} twice")
        out.append(item)
    return tuple(out)


def make_design(
    matrices: Mapping[str, CovariateMatrix | None],
    *,
    constraints: Any = None,
    reg_lambdas: Any = None,
    reg_argument: str = "reg_lambdas",
) -> CovariateDesign:
    """Combine validated per-process matrices with constraints and penalties.

    Parameters
    ----------
    matrices : Mapping[str, CovariateMatrix or None]
        Per process, in the family's order (``purchase`` then ``dropout``).
    constraints : str or sequence of str, optional
        Covariates (present in the ``purchase`` and ``dropout`` matrices
        under the same name) whose two coefficients are one (CLVTools'
        ``names.cov.constr``).
    reg_lambdas : Mapping[str, float] or float, optional
        L2 penalty per process (``{"purchase": 1.0, "dropout": 1.0}``); a
        single float is the penalty of the only process (Gamma-Gamma).
    reg_argument : str
        The argument's name for messages.

    Raises
    ------
    InvalidInputError, InvalidTypeError
        Unknown or duplicate constraint names, a constraint for a covariate
        missing from a process, penalties that are negative, not finite, for
        an unknown process or one without covariates.
    """
    present = {p: m for p, m in matrices.items() if m is not None}
    cons = _as_name_list(constraints, "constraints")
    if cons:
        for proc in ("purchase", "dropout"):
            if proc not in matrices:
                raise InvalidInputError("constraints need purchase and dropout covariates")
        for name in cons:
            for proc in ("purchase", "dropout"):
                mat = present.get(proc)
                if mat is None or name not in mat.names:
                    have = [] if mat is None else list(mat.names)
                    raise InvalidInputError(
                        f"constraints names {name!r}, which is not a column of "
                        f"{PROCESS_ARGUMENTS[proc]} (its columns: {have!r}); a constraint "
                        "makes the purchase and dropout coefficients of one covariate equal"
                    )
    lambdas = dict.fromkeys(matrices, 0.0)
    if reg_lambdas is not None:
        if isinstance(reg_lambdas, Mapping):
            items = list(reg_lambdas.items())
        elif len(matrices) == 1 and not isinstance(reg_lambdas, str | bytes | bool):
            items = [(next(iter(matrices)), reg_lambdas)]
        else:
            raise InvalidTypeError(
                f"{reg_argument} must be a mapping of process to penalty, e.g. "
                f"{{'purchase': 1.0, 'dropout': 1.0}}, got {type(reg_lambdas).__name__}"
            )
        for key, val in items:
            if key not in matrices:
                raise InvalidInputError(
                    f"{reg_argument} has the unknown process {key!r}; the processes are "
                    f"{list(matrices)!r}"
                )
            lam = v.scalar(val, f"{reg_argument}[{key!r}]", low=0.0)
            if lam > 0 and key not in present:
                raise InvalidInputError(
                    f"{reg_argument}[{key!r}] = {lam!r} but there are no {key} covariates "
                    "to penalise"
                )
            lambdas[key] = lam
    coef_names: list[str] = []
    expand: list[int] = []
    free_names: list[str] = []
    shared: dict[str, int] = {}
    for proc, mat in present.items():
        for name in mat.names:
            coef_names.append(f"{proc}.{name}")
            if name in cons:
                if name not in shared:
                    shared[name] = len(free_names)
                    free_names.append(f"constr.{name}")
                expand.append(shared[name])
            else:
                expand.append(len(free_names))
                free_names.append(f"{proc}.{name}")
    return CovariateDesign(
        matrices=present,
        constraints=cons,
        reg_lambdas=lambdas,
        coef_names=tuple(coef_names),
        expand=np.asarray(expand, dtype=np.int64),
        free_names=tuple(free_names),
    )


# ---------------------------------------------------------------------------
# Per-customer parameters
# ---------------------------------------------------------------------------


@attrs.frozen
class CovariateSpec:
    """How a family's base parameters depend on covariates (private).

    Attributes
    ----------
    base_names : tuple of str
        The family's parameters, in its order (all positive).
    links : tuple of (process, parameter, sign)
        ``theta_i = theta * exp(sign * z_process,i' gamma_process)``; a
        process may scale several parameters (BG/NBD's ``a`` and ``b``), a
        parameter at most one process.
    """

    base_names: tuple[str, ...]
    links: tuple[tuple[str, str, float], ...]

    def processes(self) -> tuple[str, ...]:
        seen: list[str] = []
        for proc, _, _ in self.links:
            if proc not in seen:
                seen.append(proc)
        return tuple(seen)


def linear_predictor(z: FloatArray, coefs: FloatArray) -> FloatArray:
    """``z @ coefs`` column by column (no BLAS threads on a busy machine)."""
    out = np.zeros(z.shape[0])
    for j in range(z.shape[1]):
        out += z[:, j] * float(coefs[j])
    return out


def row_theta(
    spec: CovariateSpec,
    base: Sequence[float] | FloatArray,
    coefs: Mapping[str, FloatArray],
    matrices: Mapping[str, FloatArray | None],
) -> list[float | FloatArray]:
    """Per-row parameters: base values, linked ones scaled by ``exp(sign * z' gamma)``.

    ``coefs`` and ``matrices`` map a process to its coefficients and its
    (rows x k) covariates; a process without covariates leaves its
    parameters scalar.
    """
    out: list[float | FloatArray] = [float(b) for b in base]
    for proc, param, sign in spec.links:
        z = matrices.get(proc)
        if z is None or z.shape[1] == 0:
            continue
        i = spec.base_names.index(param)
        with np.errstate(over="ignore"):
            out[i] = float(base[i]) * np.exp(sign * linear_predictor(z, coefs[proc]))
    return out


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class CovariateFit:
    """Outcome of :func:`fit_covariates` (private).

    Attributes
    ----------
    names : tuple of str
        Base names, then the coefficient names (``purchase.x`` ...).
    params : numpy.ndarray
        Estimates in ``names`` order (base parameters natural scale).
    log_likelihood : float
        The (unpenalised) weighted log-likelihood at the estimates.
    objective : float
        The penalised mean log-likelihood that was maximised
        (log-likelihood / customers - sum of lambda * ||gamma||^2; equal to
        the mean log-likelihood without penalties).
    standard_errors : numpy.ndarray
    covariance : numpy.ndarray
        From the inverse Hessian of the penalised log-likelihood, mapped to
        these parameters (delta method for the log-transformed base
        parameters; a constrained pair is perfectly correlated).
    n_iterations : int
    message : str
    """

    names: tuple[str, ...]
    params: FloatArray
    log_likelihood: float
    objective: float
    standard_errors: FloatArray
    covariance: FloatArray
    n_iterations: int
    message: str

    def as_dicts(self) -> tuple[dict[str, float], dict[str, float]]:
        """``params`` and ``standard_errors`` as name -> float dicts."""
        return (
            dict(zip(self.names, self.params.tolist(), strict=True)),
            dict(zip(self.names, self.standard_errors.tolist(), strict=True)),
        )


@attrs.frozen(eq=False)
class _Problem:
    """Rows, design and the family's row log-likelihood (private)."""

    spec: CovariateSpec
    design: CovariateDesign
    row_loglik: RowLogLik
    prepare: Callable[[Sequence[FloatArray]], Any]
    columns: tuple[FloatArray, ...]
    weights: FloatArray
    data: list[Any]  # prepare(columns) of each fixed chunk of rows
    bounds: list[tuple[int, int]]  # the chunks (``_threads.bounds``)
    n_base: int
    reg: FloatArray  # per full coefficient: its process's lambda
    threads: int | None
    # the per-row derivatives in log theta at the last point evaluated (key: the point's bytes)
    last: dict[bytes, list[FloatArray]] = attrs.field(factory=dict)

    @classmethod
    def of(
        cls,
        spec: CovariateSpec,
        design: CovariateDesign,
        row_loglik: RowLogLik,
        prepare: Callable[[Sequence[FloatArray]], Any],
        columns: tuple[FloatArray, ...],
        weights: FloatArray,
        threads: int | None = None,
    ) -> _Problem:
        reg = np.concatenate(
            [np.full(m.k, design.reg_lambdas.get(p, 0.0)) for p, m in design.matrices.items()]
            or [np.zeros(0)]
        )
        bounds = list(_threads.bounds(weights.shape[0], None))
        data = [prepare(tuple(c[lo:hi] for c in columns)) for lo, hi in bounds]
        return cls(
            spec,
            design,
            row_loglik,
            prepare,
            columns,
            weights,
            data,
            bounds,
            len(spec.base_names),
            reg,
            threads,
        )

    def _rows_loglik(self, theta: list[Any]) -> tuple[FloatArray, list[FloatArray]]:
        """The family's row log-likelihood and gradient, chunk by chunk on the shared threads.

        Every row's values are the same whatever the chunking (the kernels
        work element by element), so the fit does not depend on the thread
        count.
        """

        def one(i: int) -> tuple[FloatArray, Sequence[FloatArray]]:
            lo, hi = self.bounds[i]
            th = [t if not np.ndim(t) else t[lo:hi] for t in theta]
            with np.errstate(all="ignore"):  # errstate is per thread
                ll, grads = self.row_loglik(th, self.data[i], True)
            if grads is None:  # pragma: no cover - families return it with gradient=True
                raise AssertionError("row log-likelihood returned no gradient")
            return np.asarray(ll, dtype=np.float64), grads

        parts = _threads.map_chunks(one, list(range(len(self.bounds))), self.threads)
        if len(parts) == 1:
            ll0, g0 = parts[0]
            return ll0, [np.asarray(g, dtype=np.float64) for g in g0]
        ll = np.concatenate([p[0] for p in parts])
        grads = [
            np.concatenate([np.asarray(p[1][k], dtype=np.float64) for p in parts])
            for k in range(len(parts[0][1]))
        ]
        return ll, grads

    def subsample(self, size: int) -> _Problem:
        """A deterministic systematic sample of ``size`` customers (rows are sorted)."""
        total = float(np.sum(self.weights))
        points = (np.arange(size) + 0.5) * (total / size)
        idx = np.searchsorted(np.cumsum(self.weights), points, side="right")
        idx = np.minimum(idx, self.weights.shape[0] - 1)
        pick, counts = np.unique(idx, return_counts=True)
        cols = tuple(c[pick] for c in self.columns)
        return _Problem.of(
            self.spec,
            self.design.take(pick),
            self.row_loglik,
            self.prepare,
            cols,
            counts.astype(np.float64),
            self.threads,
        )

    @property
    def total(self) -> float:
        return float(np.sum(self.weights))

    def split(self, vec: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Free vector -> (base natural, full coefficients)."""
        base = np.exp(vec[: self.n_base])
        coefs = vec[self.n_base :][self.design.expand]
        return base, coefs

    def coefs_by_process(self, coefs: FloatArray) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        at = 0
        for proc, mat in self.design.matrices.items():
            out[proc] = coefs[at : at + mat.k]
            at += mat.k
        return out

    def evaluate(
        self, vec: FloatArray, *, rows: bool = False
    ) -> tuple[float, float, FloatArray, FloatArray | None] | None:
        """Penalised total, unpenalised total, free gradient, and per-row free gradients.

        Returns None where the log-likelihood or its gradient is not finite.
        """
        base, coefs = self.split(vec)
        by_proc = self.coefs_by_process(coefs)
        mats = {p: m.values for p, m in self.design.matrices.items()}
        theta = row_theta(self.spec, base, by_proc, mats)
        ll, grads = self._rows_loglik(theta)
        w = self.weights
        total = float(np.sum(w * ll))
        if not np.isfinite(total):
            return None
        nb = self.n_base
        nfree = nb + len(self.design.free_names)
        # per-row derivative in log theta_k: d ll / d theta_k * theta_k (per row where linked)
        dlog = [np.asarray(g * th, dtype=np.float64) for g, th in zip(grads, theta, strict=True)]
        self.last.clear()
        self.last[np.asarray(vec, dtype=np.float64).tobytes()] = dlog
        grad = np.zeros(nfree)
        for k in range(nb):
            grad[k] = float(np.sum(w * dlog[k]))
        full = np.zeros(len(self.design.coef_names))
        per_row_full: list[FloatArray | None] = [None] * full.shape[0]
        offsets: dict[str, int] = {}
        at = 0
        for proc, mat in self.design.matrices.items():
            offsets[proc] = at
            at += mat.k
        for proc, param, sign in self.spec.links:
            linked = self.design.matrices.get(proc)
            if linked is None:
                continue
            dk = dlog[self.spec.base_names.index(param)]
            wd = w * dk
            for j in range(linked.k):
                col = linked.values[:, j]
                full[offsets[proc] + j] += sign * float(np.sum(wd * col))
                if rows:
                    prev = per_row_full[offsets[proc] + j]
                    term = sign * dk * col
                    per_row_full[offsets[proc] + j] = term if prev is None else prev + term
        n = self.total
        penalty = float(n * np.sum(self.reg * coefs**2))
        full -= 2.0 * n * self.reg * coefs
        np.add.at(grad[nb:], self.design.expand, full)
        if not np.all(np.isfinite(grad)):
            return None
        per_row: FloatArray | None = None
        if rows:
            per_row = np.zeros((w.shape[0], nfree))
            for k in range(nb):
                per_row[:, k] = dlog[k]
            for j, f in enumerate(self.design.expand):
                col_j = per_row_full[j]
                if col_j is not None:
                    per_row[:, nb + int(f)] += col_j
            if not np.all(np.isfinite(per_row)):
                return None
        return total - penalty, total, grad, per_row

    def _dlog(self, vec: FloatArray) -> list[FloatArray] | None:
        """Per-row derivatives of the log-likelihood in each row's log theta_k."""
        key = np.asarray(vec, dtype=np.float64).tobytes()
        if key not in self.last and self.evaluate(vec) is None:
            return None
        return self.last.get(key)

    def _design_terms(self) -> list[list[tuple[int, FloatArray | None]]]:
        """For each base parameter: (free index, column) pairs of d log theta_i,k / d free.

        ``log theta_i,k = u_k + sign z_i' gamma`` is linear in the free
        parameters: the base index with coefficient 1 (column None), and for a
        linked parameter each covariate column times the sign.
        """
        nb = self.n_base
        terms: list[list[tuple[int, FloatArray | None]]] = [[(k, None)] for k in range(nb)]
        offsets: dict[str, int] = {}
        at = 0
        for proc, mat in self.design.matrices.items():
            offsets[proc] = at
            at += mat.k
        for proc, param, sign in self.spec.links:
            linked = self.design.matrices.get(proc)
            if linked is None:
                continue
            k = self.spec.base_names.index(param)
            for j in range(linked.k):
                free = nb + int(self.design.expand[offsets[proc] + j])
                terms[k].append((free, sign * linked.values[:, j]))
        return terms

    def hessian(self, vec: FloatArray) -> FloatArray:
        """Hessian of the penalised total in the free parameters.

        Each row's log-likelihood depends on the free parameters only through
        its log theta_i (linear in them), so the Hessian is
        ``sum_i w_i J_i' H_i J_i`` with ``H_i`` the row's Hessian in its log
        parameters: differences of the analytic per-row gradient in each
        *base* parameter (one evaluation each, forward differences beyond
        ``_CENTRAL_MAX`` rows, else two, central), whatever the number of
        coefficients. The per-row derivatives at ``vec`` itself come from the
        last evaluation when it was there (no extra pass).
        """
        k = vec.shape[0]
        nb = self.n_base
        central = self.weights.shape[0] <= _CENTRAL_MAX
        d0 = None if central else self._dlog(vec)
        if not central and d0 is None:
            return np.full((k, k), np.nan)
        cols: list[list[FloatArray]] = []  # cols[l][m]: d (d ll_i / d phi_m) / d u_l
        for ll_ in range(nb):
            step = (1e-5 if central else 1e-6) * max(1.0, abs(float(vec[ll_])))
            e = np.zeros(k)
            e[ll_] = step
            up = self._dlog(vec + e)
            if up is None:
                return np.full((k, k), np.nan)
            if central:
                down = self._dlog(vec - e)
                if down is None:
                    return np.full((k, k), np.nan)
                cols.append([(a - b) / (2.0 * step) for a, b in zip(up, down, strict=True)])
            else:
                assert d0 is not None
                cols.append([(a - b) / step for a, b in zip(up, d0, strict=True)])
        terms = self._design_terms()
        w = self.weights
        hess = np.zeros((k, k))
        for m in range(nb):
            for ll_ in range(m, nb):
                c = w * (0.5 * (cols[ll_][m] + cols[m][ll_]))
                for a, ca in terms[m]:
                    cc = c if ca is None else c * ca
                    for b, cb in terms[ll_]:
                        val = float(np.sum(cc if cb is None else cc * cb))
                        hess[a, b] += val
                        if ll_ != m:
                            hess[b, a] += val
        reg_free = np.zeros(k - nb)
        np.add.at(reg_free, self.design.expand, self.reg)
        hess[nb:, nb:] -= np.diag(2.0 * self.total * reg_free)
        return 0.5 * (hess + hess.T)

    def hessian_by_gradient(self, vec: FloatArray) -> FloatArray:
        """The same Hessian by central differences of the total gradient in every free parameter.

        Slower (two evaluations per parameter); kept to check :meth:`hessian`.
        """
        k = vec.shape[0]
        hess = np.empty((k, k))
        for i in range(k):
            step = 1e-5 * max(1.0, abs(float(vec[i])))
            e = np.zeros(k)
            e[i] = step
            up, down = self.evaluate(vec + e), self.evaluate(vec - e)
            if up is None or down is None:
                return np.full((k, k), np.nan)
            hess[i] = (up[2] - down[2]) / (2.0 * step)
        return 0.5 * (hess + hess.T)


def _bhhh(problem: _Problem, vec: FloatArray) -> FloatArray | None:
    """Scoring steps with the outer product of per-row gradients (BHHH), to a loose tolerance."""
    n = problem.total
    cur = problem.evaluate(vec, rows=True)
    if cur is None:
        return None
    sizes: list[float] = []
    pen_diag = np.zeros(vec.shape[0])
    reg_free = np.zeros(vec.shape[0] - problem.n_base)
    np.add.at(reg_free, problem.design.expand, problem.reg)
    pen_diag[problem.n_base :] = 2.0 * n * reg_free
    for it in range(80):
        pen, _, grad, per_row = cur
        assert per_row is not None
        wr = per_row * problem.weights[:, None]
        info = np.einsum("ij,ik->jk", wr, per_row) + np.diag(pen_diag)
        try:
            step = np.linalg.solve(info + 1e-10 * np.trace(info) * np.eye(vec.shape[0]), grad)
        except np.linalg.LinAlgError:
            return None
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        for _ in range(30):
            new = problem.evaluate(vec + step, rows=True)
            if new is not None and new[0] >= pen - 1e-14 * abs(pen):
                break
            step *= 0.5
        else:
            return vec if it else None
        vec = vec + step
        cur = new
        if not _finite_interior(vec, problem.n_base):
            return vec  # running off: fit_covariates reports it
        sizes.append(float(np.max(np.abs(step))))
        if sizes[-1] < 1e-3:
            return vec
        if it >= 8 and sizes[-1] > 0.3 * sizes[-5]:
            return vec  # creeping along a ridge: Newton steps do better
    return vec


def _newton(
    problem: _Problem, vec: FloatArray, mean_hess: FloatArray | None
) -> tuple[FloatArray, int, FloatArray] | None:
    """Newton steps on the penalised mean log-likelihood; returns (vec, iterations, total Hessian).

    Up to ``_SUBSAMPLE`` rows the Hessian is recomputed at every step
    (Newton's method, quadratic convergence) and the iterations stop once a
    step is below 1e-4 standard errors in every parameter. On more rows
    ``mean_hess`` (the Hessian per customer from a subsample) serves as long
    as the steps shrink at least twofold each time (the chord method: each
    pass over the data costs one evaluation), else the Hessian is
    recomputed once on these rows; the iterations stop once the distance
    still to go, estimated from the steps' rate of decrease, is below 1e-4
    standard errors. Steps follow the absolute eigenvalues (a descent
    direction even where the objective is not concave), capped at 2 and
    halved until the objective does not fall. The returned Hessian is
    computed at the final point (for the standard errors).
    """
    n = problem.total
    cur = problem.evaluate(vec)
    if cur is None:
        return None
    hess_total: FloatArray | None = None
    slow = False
    prev = np.inf
    exact = problem.weights.shape[0] <= _SUBSAMPLE  # Hessians are cheap: always fresh ones
    for it in range(1, 60):
        pen, _, grad, _ = cur
        if mean_hess is None or (exact and it > 1) or (slow and hess_total is None):
            hess_total = problem.hessian(vec)
            if not np.all(np.isfinite(hess_total)):
                return None
            mean_hess = hess_total / n
        lam, vecs = np.linalg.eigh(-mean_hess)
        lam = np.maximum(np.abs(lam), 1e-8 * max(float(np.max(np.abs(lam))), 1e-300))
        se = np.sqrt(np.sum(vecs**2 / lam, axis=1) / n)  # standard errors, roughly
        step = vecs @ ((vecs.T @ (grad / n)) / lam)
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        for _ in range(40):
            new = problem.evaluate(vec + step)
            if new is not None and new[0] >= pen - 1e-13 * abs(pen):
                break
            step *= 0.5
        else:
            # no ascent along the step: at the optimum to rounding
            return vec, it, problem.hessian(vec)
        size = float(np.max(np.abs(step)))
        ratio = min(size / prev, 0.9) if np.isfinite(prev) else 0.9
        slow = slow or size > 0.5 * prev
        prev = size
        vec = vec + step
        cur = new
        if not _finite_interior(vec, problem.n_base):
            return vec, it, np.full((vec.shape[0], vec.shape[0]), np.nan)  # running off
        size_se = float(np.max(np.abs(step) / se))
        to_go = size_se if exact else size_se * ratio / (1.0 - ratio)
        if size < 1e-10 or to_go < 1e-4:
            return vec, it, problem.hessian(vec)
    return None


def fit_covariates(
    spec: CovariateSpec,
    design: CovariateDesign,
    row_loglik: RowLogLik,
    columns: Sequence[FloatArray],
    weights: FloatArray,
    start: Sequence[float],
    *,
    model: str,
    prepare: Callable[[Sequence[FloatArray]], Any] | None = None,
    initial_coefficients: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> CovariateFit:
    r"""Maximum-likelihood fit of a covariate model.

    Parameters
    ----------
    spec : CovariateSpec
        The family's base parameters and links.
    design : CovariateDesign
        From :func:`make_design`; its matrices have one row per data row.
    row_loglik : callable
        ``row_loglik(theta, data, gradient)`` -> ``(ll, grads)``: per-row
        log-likelihood and (with ``gradient``) one array per base parameter
        with the per-row derivative :math:`\partial \ell_i / \partial \theta_{k}`
        evaluated at the row's own parameter. ``theta`` has one entry per
        base parameter: a float, or a per-row array for linked parameters.
    columns : sequence of arrays
        The validated data columns (one value per row).
    weights : array
        Customers per row (> 0), aligned with the rows.
    start : sequence of float
        Starting base parameters (e.g. the family's no-covariate fit); the
        coefficients start at 0 unless ``initial_coefficients`` says otherwise.
    model : str
        The model's name for messages.
    prepare : callable, optional
        ``prepare(columns) -> data`` once per row set (and subsample);
        default: the columns themselves.
    initial_coefficients : Mapping[str, float], optional
        Starting values by free name (``"purchase.x"``, ``"constr.x"``).
    threads : int, optional
        Threads for the row log-likelihood (else ``CUSTREL_THREADS``, else
        every core): the rows are evaluated in fixed chunks, so the fit is the
        same to the last bit for any value.

    Returns
    -------
    CovariateFit

    Raises
    ------
    ConvergenceError
        When the optimizer finds no finite maximum (a base parameter running
        beyond :math:`e^{\pm 16}`, a coefficient beyond 30 in absolute value,
        or an information matrix that is not positive definite).

    Notes
    -----
    Identical rows (data and covariates) are merged into weighted rows. The
    search runs over :math:`u = \log\theta` and the free coefficients on the
    penalised mean log-likelihood
    :math:`\ell/N - \sum_p \lambda_p \lVert\gamma_p\rVert^2` (CLVTools'
    regularisation): scoring steps with the outer product of the per-row
    gradients (BHHH), then Newton steps with the Hessian by differences of
    the analytic gradient. Above 20,000 distinct rows the same fit on a
    systematic sample of 10,000 customers gives the start and the first
    Hessian, so the full data are used only for the last Newton steps and
    the final Hessian. The covariance is the inverse of minus that Hessian,
    mapped to natural parameters by the delta method.
    """
    cols = tuple(np.asarray(c, dtype=np.float64) for c in columns)
    prep = prepare if prepare is not None else (lambda c: c)
    # merge identical rows (data and covariates)
    mats = list(design.matrices.values())
    all_cols = list(cols) + [m.values[:, j] for m in mats for j in range(m.k)]
    merged, w, _ = compress_rows(all_cols, np.asarray(weights, dtype=np.float64))
    ncol = len(cols)
    new_mats: dict[str, CovariateMatrix] = {}
    at = ncol
    for proc, mat in design.matrices.items():
        block = np.empty((w.shape[0], mat.k), order="F")
        for j in range(mat.k):
            block[:, j] = merged[at + j]
        at += mat.k
        new_mats[proc] = CovariateMatrix(mat.names, block)
    design = attrs.evolve(design, matrices=new_mats)
    problem = _Problem.of(spec, design, row_loglik, prep, tuple(merged[:ncol]), w, threads)
    nb = len(spec.base_names)
    vec = np.zeros(nb + len(design.free_names))
    vec[:nb] = np.log(np.asarray(start, dtype=np.float64))
    for name, val in check_initial(design, initial_coefficients).items():
        vec[nb + design.free_names.index(name)] = val
    big = w.shape[0] > _SUBSAMPLE
    sub = problem.subsample(int(min(_SUBSAMPLE_SIZE, problem.total // 4))) if big else problem
    if sub.evaluate(vec) is None:
        raise ConvergenceError(
            f"{model}: the log-likelihood is not finite at the starting values; pass other "
            "starting values with initial=..., or check the scale of the covariates"
        )
    iterations = 0
    result: tuple[FloatArray, int, FloatArray] | None = None
    message = ""
    if big:
        near = _bhhh(sub, vec)
        got = None if near is None else _newton(sub, near, None)
        if got is not None and _finite_interior(got[0], nb):
            iterations += got[1]
            result = _newton(problem, got[0], got[2] / sub.total)
            message = "converged: BHHH and Newton on a subsample, then Newton on all rows"
    if result is None:
        near = _bhhh(problem, vec)
        if near is not None and not _finite_interior(near, nb):
            result = (near, 0, np.full((near.shape[0], near.shape[0]), np.nan))
            message = "stopped: BHHH scoring ran off"
        elif near is not None:
            result = _newton(problem, near, None)
            message = "converged: BHHH scoring, then Newton"
    if result is None:
        result = _fallback(problem, vec, model)
        message = "converged: BFGS, then Newton"
    vec, it, hess = result
    iterations += it
    _check_interior(vec, hess, problem, model, message)
    got_end = problem.evaluate(vec)
    assert got_end is not None
    pen, total, _, _ = got_end
    cov_free = np.linalg.inv(-hess)
    base, coefs = problem.split(vec)
    nfull = nb + coefs.shape[0]
    jac = np.zeros((nfull, vec.shape[0]))
    jac[np.arange(nb), np.arange(nb)] = base
    for j, f in enumerate(design.expand):
        jac[nb + j, nb + int(f)] = 1.0
    cov = jac @ cov_free @ jac.T
    var = np.diag(cov)
    se = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)
    return CovariateFit(
        names=tuple(spec.base_names) + design.coef_names,
        params=np.concatenate([base, coefs]),
        log_likelihood=total,
        objective=pen / problem.total,
        standard_errors=se,
        covariance=cov,
        n_iterations=iterations,
        message=message,
    )


def check_initial(design: CovariateDesign, initial: Mapping[str, Any] | None) -> dict[str, float]:
    """Validate starting coefficients by free name (call it before any costly start fit)."""
    out: dict[str, float] = {}
    for name, val in (initial or {}).items():
        if name not in design.free_names:
            raise InvalidInputError(
                f"initial has the unknown coefficient {name!r}; the coefficients are "
                f"{list(design.free_names)!r}"
            )
        out[name] = v.scalar(val, f"initial[{name!r}]")
    return out


def _finite_interior(vec: FloatArray, nb: int) -> bool:
    return bool(np.all(np.abs(vec[:nb]) < _RUNAWAY) and np.all(np.abs(vec[nb:]) < _COEF_RUNAWAY))


def _fallback(problem: _Problem, vec: FloatArray, model: str) -> tuple[FloatArray, int, FloatArray]:
    """BFGS on the penalised mean log-likelihood, then Newton; raises when it fails."""
    from scipy import optimize  # imported on first fit (import custrel stays quick)

    n = problem.total

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        if np.any(np.abs(u[: problem.n_base]) > _LOG_BOUND):
            return np.inf, np.zeros_like(u)
        got = problem.evaluate(np.asarray(u, dtype=np.float64))
        if got is None:
            return np.inf, np.zeros_like(u)
        return -got[0] / n, -got[2] / n

    res = optimize.minimize(
        objective, vec, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 2000}
    )
    u = np.asarray(res.x, dtype=np.float64)
    if not np.isfinite(res.fun):
        raise ConvergenceError(
            f"{model}: the optimizer did not converge: {res.message}; check the data or pass "
            "other starting values with initial=..."
        )
    if _finite_interior(u, problem.n_base):
        got = _newton(problem, u, None)
        if got is not None:
            return got[0], got[1] + int(res.nit), got[2]
    hess = problem.hessian(u)
    return u, int(res.nit), hess


def _check_interior(
    vec: FloatArray, hess: FloatArray, problem: _Problem, model: str, message: str
) -> None:
    nb = problem.n_base
    names = list(problem.spec.base_names) + list(problem.design.free_names)
    bad = [
        f"{names[i]} ran to {float(np.exp(vec[i])):.3g}"
        for i in range(nb)
        if abs(vec[i]) >= _RUNAWAY
    ] + [
        f"{names[i]} ran to {float(vec[i]):.3g}"
        for i in range(nb, vec.shape[0])
        if abs(vec[i]) >= _COEF_RUNAWAY
    ]
    if bad:
        raise ConvergenceError(
            f"{model}: the likelihood has no finite maximum for these data: "
            + " and ".join(bad)
            + f" ({message}); a covariate may separate the customers (all buyers share one "
            "value), or the data cannot identify the model; drop the covariate or pass "
            "reg_lambdas to penalise the coefficients"
        )
    if not np.all(np.isfinite(hess)) or not np.all(np.linalg.eigvalsh(hess) < 0):
        raise ConvergenceError(
            f"{model}: the likelihood has no interior maximum for these data: the information "
            "matrix is not positive definite at "
            + ", ".join(
                f"{n}={val:.4g}"
                for n, val in zip(names, np.concatenate([np.exp(vec[:nb]), vec[nb:]]), strict=True)
            )
            + f" ({message}); drop a covariate, or pass reg_lambdas to penalise the coefficients"
        )


# ---------------------------------------------------------------------------
# Fitted covariate models
# ---------------------------------------------------------------------------


def _names_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(n) for n in value)


def _names_map(value: Mapping[str, Sequence[str]]) -> Mapping[str, tuple[str, ...]]:
    return v.FrozenMap({str(k): tuple(str(n) for n in names) for k, names in value.items()})


# no slots: a family model class that adds slotted fields of its own (GammaGammaModel)
# can then be the second base of its covariate model without a layout conflict
@attrs.frozen(eq=False, repr=False, slots=False)
class CovariateModel(BTYDModel):
    """Base of the fitted covariate models (mixed in before the family's model class).

    Attributes
    ----------
    params, log_likelihood, standard_errors, covariance, n_customers, n_iterations, message
        As :class:`BTYDModel`; ``params`` holds the base parameters, then one
        entry ``"<process>.<covariate>"`` per coefficient.
    covariate_names : Mapping[str, tuple of str]
        The covariates of each process with coefficients (``"purchase"``,
        ``"dropout"``, ``"spend"``), in params order.
    constraints : tuple of str
        Covariates whose purchase and dropout coefficients were constrained
        equal in the fit.
    reg_lambdas : Mapping[str, float]
        The L2 penalties of the fit (0 for none).
    """

    covariate_names: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_names_map)
    constraints: tuple[str, ...] = attrs.field(default=(), converter=_names_tuple)
    reg_lambdas: Mapping[str, float] = attrs.field(factory=dict, converter=_frozen_mapping)
    # per-row parameters of a prediction call (a bound copy); None on the fitted model
    _row_params: tuple[Any, ...] | None = attrs.field(default=None, repr=False, eq=False)

    #: (process, parameter, sign) as in :class:`CovariateSpec`; each family sets it.
    _links: ClassVar[tuple[tuple[str, str, float], ...]] = ()

    @classmethod
    def _spec(cls) -> CovariateSpec:
        return CovariateSpec(cls._param_names, cls._links)

    @classmethod
    def _processes(cls) -> tuple[str, ...]:
        return cls._spec().processes()

    def _all_names(self) -> tuple[str, ...]:
        return tuple(self.params)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={val:.4g}" for k, val in self.params.items())
        return (
            f"{type(self).__name__}({ps}, log_likelihood={self.log_likelihood:.6g}, "
            f"n_customers={self.n_customers:g})"
        )

    def coefficients(self, process: str) -> dict[str, float]:
        """The coefficients of one process by covariate name (``{}`` when it has none).

        Parameters
        ----------
        process : str
            ``"purchase"``, ``"dropout"`` or (Gamma-Gamma) ``"spend"``.

        Returns
        -------
        dict
            ``{covariate: gamma}``; ``exp(gamma)`` is the multiplicative
            effect of one unit of the covariate on the process's rate (see
            the model's Notes for the direction).
        """
        procs = self._processes()
        if not isinstance(process, str) or process not in procs:  # (arrays compare elementwise)
            raise InvalidInputError(f"process must be one of {list(procs)!r}, got {process!r:.60}")
        names = self.covariate_names.get(process, ())
        return {n: float(self.params[f"{process}.{n}"]) for n in names}

    def _coef_array(self, process: str) -> FloatArray:
        names = self.covariate_names.get(process, ())
        return np.asarray([self.params[f"{process}.{n}"] for n in names], dtype=np.float64)

    def _bind(self, covariates: Mapping[str, Any], n_rows: int | None) -> Any:
        """A copy whose kernels use the per-row parameters of these prediction covariates.

        ``covariates`` maps a process to the caller's argument (or None);
        ``n_rows`` is the number of customers when known. With no
        coefficients at all the model binds scalars.
        """
        mats: dict[str, FloatArray | None] = {}
        for proc in self._processes():
            mats[proc] = prediction_covariates(
                covariates.get(proc),
                PROCESS_ARGUMENTS[proc],
                self.covariate_names.get(proc, ()),
                n_rows,
            )
        rows = {m.shape[0] for m in mats.values() if m is not None}
        if len(rows) > 1:
            shown = ", ".join(
                f"{PROCESS_ARGUMENTS[p]} has {m.shape[0]}" for p, m in mats.items() if m is not None
            )
            raise InvalidInputError(f"the covariates must have one row per customer: {shown} rows")
        coefs = {p: self._coef_array(p) for p in self._processes()}
        spec = self._spec()
        theta = row_theta(spec, self._theta().tolist(), coefs, mats)
        for proc, param, _sign in spec.links:  # exp(z'gamma) past the float range: refuse
            value = np.asarray(theta[spec.base_names.index(param)])
            bad = ~(np.isfinite(value) & (value > 0.0))
            if value.ndim and bad.any():
                i = int(np.flatnonzero(bad)[0])
                mat = mats[proc]
                row = mat[i] if mat is not None else ()
                shown = ", ".join(
                    f"{n}={z:.6g}"
                    for n, z in zip(self.covariate_names.get(proc, ()), row, strict=False)
                )
                raise InvalidInputError(
                    f"{PROCESS_ARGUMENTS[proc]} row {i} ({shown}) gives {param} = "
                    f"{float(value[i])!r}: the covariates times their coefficients leave the "
                    "float range"
                )
        return attrs.evolve(self, row_params=tuple(theta))

    def _row_theta(self) -> tuple[Any, ...]:
        """Per-row parameters of a bound copy (floats, arrays for linked ones).

        An unbound model with coefficients refuses: a prediction that does
        not take the covariates would otherwise silently use the base
        parameters for every customer.
        """
        if self._row_params is not None:
            return self._row_params
        if any(self.covariate_names.get(p) for p in self._processes()):
            args = ", ".join(
                f"{PROCESS_ARGUMENTS[p]}=" for p in self._processes() if self.covariate_names.get(p)
            )
            raise InvalidInputError(
                f"{type(self).__name__} predicts per customer from the covariates: this "
                f"prediction does not take {args} (use a method that does)"
            )
        return tuple(float(t) for t in self._theta())

    def _rows(self, covariates: Mapping[str, Any], n_rows: int | None) -> tuple[Any, ...]:
        """The per-row parameters of these prediction covariates (validated)."""
        bound: CovariateModel = self._bind(covariates, n_rows)
        return bound._row_theta()

    @classmethod
    def _from_fit(
        cls, fit: CovariateFit, design: CovariateDesign, weights: FloatArray, **extra: Any
    ) -> Any:
        """The fitted model of a :func:`fit_covariates` result on this design and weights."""
        params, se = fit.as_dicts()
        return cls(
            params=params,
            log_likelihood=fit.log_likelihood,
            standard_errors=se,
            covariance=fit.covariance,
            n_customers=float(np.sum(weights)),
            n_iterations=fit.n_iterations,
            message=fit.message,
            covariate_names={p: m.names for p, m in design.matrices.items()},
            constraints=design.constraints,
            reg_lambdas=design.reg_lambdas,
            **extra,
        )

    @classmethod
    def _from_named(cls, params: Mapping[str, float], **extra: Any) -> Any:
        """A model with known parameters: base names, then ``<process>.<name>`` entries."""
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        missing = [n for n in cls._param_names if n not in params]
        if missing:
            raise InvalidInputError(
                f"params must name {list(cls._param_names)!r} and the coefficients; "
                f"missing {missing!r}"
            )
        names: dict[str, list[str]] = {p: [] for p in cls._processes()}
        values: dict[str, float] = {}
        for n in cls._param_names:
            values[n] = v.scalar(params[n], f"params[{n!r}]", low=0.0, low_inclusive=False)
        for key in params:
            if key in cls._param_names:
                continue
            proc, _, cov = str(key).partition(".")
            if proc not in names or not cov:
                raise InvalidInputError(
                    f"params has the unknown entry {key!r}; coefficients are named "
                    f"'<process>.<covariate>' with process in {list(names)!r}"
                )
            names[proc].append(cov)
        for proc in names:
            for cov in names[proc]:
                key = f"{proc}.{cov}"
                values[key] = v.scalar(params[key], f"params[{key!r}]")
        k = len(values)
        return cls(
            params=values,
            log_likelihood=float("nan"),
            standard_errors=dict.fromkeys(values, float("nan")),
            covariance=np.full((k, k), np.nan),
            n_customers=0.0,
            covariate_names={p: n for p, n in names.items() if n},
            **extra,
        )


def row_shape(arrays: Sequence[Any], theta: Sequence[Any]) -> tuple[int, ...]:
    """The broadcast shape of the customer columns and the per-row parameters.

    Raises InvalidInputError when the covariate rows do not match the customers.
    """
    per_row = [t for t in theta if np.ndim(t)]
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays), *(np.shape(t) for t in per_row))
    except ValueError:
        sizes = " and ".join(sorted({str(np.size(a)) for a in arrays if np.ndim(a)}))
        rows = np.shape(per_row[0])[0] if per_row else 0
        raise InvalidInputError(
            f"the covariates have {rows} rows but the other arguments have {sizes} values; "
            "give one covariate row per customer"
        ) from None


def align_rows(arrays: Sequence[Any], theta: Sequence[Any]) -> tuple[list[FloatArray], Any]:
    """Broadcast the customer columns against per-row parameters (all flattened).

    Returns the columns and the parameters, each 1-D of one length (scalar
    parameters stay scalars); reshape results with :func:`row_shape`.
    """
    shape = row_shape(arrays, theta)
    out = [np.array(np.broadcast_to(a, shape), dtype=np.float64).ravel() for a in arrays]
    th = [
        t if not np.ndim(t) else np.array(np.broadcast_to(t, shape), dtype=np.float64).ravel()
        for t in theta
    ]
    return out, th


def per_customer_rows(
    fn: Callable[..., Any], arrays: Sequence[Any], theta: Sequence[Any], threads: Any = None
) -> FloatArray:
    """``fn(theta_chunk, *array_chunks)`` over the fixed customer chunks (``_threads``).

    The per-row parameters are cut into the same chunks as the customer
    arrays, so a kernel always sees matching rows, and the result is the same
    to the last bit for any thread count. Scalars broadcast; the result has
    the broadcast shape of the arrays and the per-row parameters.
    """
    shape = row_shape(arrays, theta)
    idx = [i for i, t in enumerate(theta) if np.ndim(t)]
    k = len(arrays)

    def call(*cols: FloatArray) -> Any:
        th = list(theta)
        for j, i in enumerate(idx):
            th[i] = cols[k + j]
        return fn(th, *cols[:k])

    out = _threads.per_customer(call, *arrays, *(theta[i] for i in idx), threads=threads)
    return np.asarray(out, dtype=np.float64).reshape(shape)


def customer_count(*arrays: Any) -> int | None:
    """The number of customers the summary arguments describe (None when all are scalars)."""
    sizes = {int(np.size(a)) for a in arrays if np.ndim(a) >= 1}
    if not sizes:
        return None
    return max(sizes)


@attrs.frozen(eq=False, repr=False)
class CovariatePredictions(CovariateModel):
    """The public predictions of a repeat-purchase covariate model (private mixin).

    Each method binds ``purchase_covariates`` and ``dropout_covariates`` to
    per-customer parameters (:meth:`CovariateModel._bind`: required exactly
    for the processes with coefficients, refused otherwise) and runs the
    family's prediction on the bound copy, whose kernels see one parameter
    value per customer. Family-independent: the first base of the BG/NBD,
    GGompertz/NBD and Pareto/NBD covariate models, which implement only the
    private kernels (through :meth:`_aligned` or on :meth:`_row_theta`).
    """

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters: the base parameters and the coefficients.

        Parameters
        ----------
        params : Mapping[str, float]
            The base parameters (> 0) and any number of coefficients named
            ``"purchase.<covariate>"`` or ``"dropout.<covariate>"``.

        Returns
        -------
        CovariateModel
            Of the class it is called on, with NaN log-likelihood and
            standard errors.

        Examples
        --------
        >>> from custrel.btyd._bgnbd_cov import BGNBDCovariateModel
        >>> m = BGNBDCovariateModel.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "purchase.vip": 0.7})
        >>> m.covariate_names["purchase"]
        ('vip',)
        >>> m.expected_purchases(39.0, purchase_covariates=[[0.0], [1.0]]).round(3).tolist()
        [1.197, 1.868]
        """
        return cls._from_named(params)

    def _aligned(self, *arrays: Any) -> tuple[list[FloatArray], Any, tuple[int, ...]]:
        """The customer columns and a copy whose ``_theta()`` is aligned with them, and the shape.

        Refuses a model with coefficients that was not bound to covariates
        (a prediction method that does not take them would otherwise predict
        as if every covariate were 0).
        """
        if self._row_params is None and any(self.covariate_names.values()):
            raise InvalidInputError(
                f"{type(self).__name__} has covariates {dict(self.covariate_names)!r}: predict "
                "with a method that takes purchase_covariates= and dropout_covariates="
            )
        rows = self._row_theta()
        cols, th = align_rows(arrays, rows)  # refuses a row mismatch
        return cols, attrs.evolve(self, row_params=tuple(th)), row_shape(arrays, rows)

    def _theta(self) -> FloatArray:
        """Base parameters; on a copy bound to covariates, one column per customer."""
        rows = self._row_params
        if rows is None:
            return super()._theta()
        out: FloatArray = np.stack(np.broadcast_arrays(*(np.asarray(q) for q in rows)))
        return out

    def _on_rows(self, kernel: Callable[..., FloatArray], *arrays: Any) -> FloatArray:
        """``kernel(view, *columns)`` of the family on the rows of :meth:`_aligned`, reshaped."""
        cols, view, shape = self._aligned(*arrays)
        return kernel(view, *cols).reshape(shape)

    def _with(self, purchase: Any, dropout: Any, n_rows: int | None) -> Any:
        return self._bind({"purchase": purchase, "dropout": dropout}, n_rows)

    def _per_customer(
        self,
        method: Any,
        args: tuple[Any, ...],
        covariates: tuple[Any, Any],
        threads: int | None,
        **kwargs: Any,
    ) -> FloatArray:
        """``method(bound, *args, threads=threads, **kwargs)`` of the base class, chunk-aware.

        The base methods run their kernels over the fixed customer chunks of
        :mod:`custrel.btyd._threads`; a kernel there sees one chunk of the
        customers but would see every customer's parameters. Up to one chunk
        of customers the base method runs on the bound copy as it is; beyond,
        the customers (arguments with one value per customer, and the
        covariate rows) are cut into the same fixed chunks here and the base
        method runs on each with its own rows, on the shared pool: the same
        values, to the last bit, as one pass.
        """
        n = customer_count(*args[-3:])  # frequency, recency, T
        bound = self._with(*covariates, n)
        rows = bound._row_params
        k = max((int(np.size(q)) for q in rows if np.ndim(q)), default=None) if rows else None
        if n is None and k is not None and k > 1:
            # one history for several covariate rows: the history applies to each row
            args = (
                *args[:-3],
                *(np.broadcast_to(np.asarray(a, dtype=np.float64), (k,)) for a in args[-3:]),
            )
            n = k
        if n is None or n <= _threads.CHUNK:
            out: FloatArray = method(bound, *args, threads=threads, **kwargs)
            return out
        _as_rfm(*args[-3:], allow_scalar=True)  # bad values named by their row in the whole
        if "horizon" in kwargs:  # the CLV budget is for all customers, not one chunk
            h = v.positive_int(kwargs["horizon"], "horizon")
            v.check_budget(
                float(h) * n,
                "the CLV forecast (periods x customers)",
                budget=v.max_cells(),
                culprit=f"horizon={h!r} for {n} customers",
                env="CUSTREL_MAX_CELLS",
                hint="value the customers in batches",
            )
        for name, value in (
            ("t", args[0] if len(args) > 3 else None),
            ("spend", kwargs.get("spend")),
        ):
            if value is not None:
                v.as_float_array(value, name, ndim=(0, 1))  # rows named globally
        rows = bound._row_theta()

        def piece(value: Any, lo: int, hi: int) -> Any:
            return value[lo:hi] if np.ndim(value) == 1 and np.size(value) == n else value

        def one(span: tuple[int, int]) -> FloatArray:
            lo, hi = span
            view = attrs.evolve(bound, row_params=tuple(piece(q, lo, hi) for q in rows))
            part = tuple(piece(np.asarray(a), lo, hi) for a in args)
            extra = {
                k: piece(np.asarray(val), lo, hi) if k == "spend" else val
                for k, val in kwargs.items()
            }
            res: FloatArray = method(view, *part, threads=1, **extra)
            return res

        parts = _threads.map_chunks(one, _threads.bounds(n), threads)
        joined: FloatArray = np.concatenate([np.ravel(p_) for p_ in parts])
        return joined

    def customer_log_likelihood(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.customer_log_likelihood`, with the covariates.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            As in the base method (the same result for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer, required exactly for the processes with
            coefficients (a dataframe's columns matched by name).

        Returns
        -------
        numpy.ndarray
            One log-likelihood per customer.
        """
        return self._per_customer(
            RepeatPurchaseModel.customer_log_likelihood,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

    def expected_purchases(
        self, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Expected repeat purchases in (0, t] of new customers with these covariates.

        Parameters
        ----------
        t : float or array_like
            Time since the first purchase; broadcasts against the covariate rows.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer.

        Returns
        -------
        numpy.ndarray
            E[X(t)] per row, increasing in ``t``.
        """
        bound = self._with(purchase_covariates, dropout_covariates, None)
        out: FloatArray = RepeatPurchaseModel.expected_purchases(bound, t)
        return out

    def conditional_expected_purchases(
        self,
        t: Any,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with this history and these covariates.

        Parameters
        ----------
        t : float or array_like
            Length of the forecast window (one, or one per customer).
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            Threads to use; the result is the same for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            E[Y(t) | history], one per customer.
        """
        return self._per_customer(
            RepeatPurchaseModel.conditional_expected_purchases,
            (t, frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

    def probability_alive(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """Probability that each customer is still active at T.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        threads : int, optional
            Threads to use; the result is the same for any value.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            In [0, 1].
        """
        return self._per_customer(
            RepeatPurchaseModel.probability_alive,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
        )

    def probability_of_purchases(
        self, n: Any, t: Any, *, purchase_covariates: Any = None, dropout_covariates: Any = None
    ) -> FloatArray:
        """Probability that a new customer with these covariates makes ``n`` purchases in (0, t].

        Parameters
        ----------
        n : int or array_like of int
            Numbers of purchases (>= 0).
        t : float or array_like
            Time since the first purchase.
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per new customer; ``n``, ``t`` and the rows broadcast.

        Returns
        -------
        numpy.ndarray
            P(X(t) = n).
        """
        bound = self._with(purchase_covariates, dropout_covariates, None)
        out: FloatArray = RepeatPurchaseModel.probability_of_purchases(bound, n, t)
        return out

    def customer_lifetime_value(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        spend: Any,
        *,
        horizon: int,
        discount_rate: float,
        margin: float = 1.0,
        period: float = 1.0,
        threads: int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> FloatArray:
        """As :meth:`RepeatPurchaseModel.customer_lifetime_value`, with the covariates.

        Same arguments, checks and budgets as the base method; each customer
        is valued at its own parameters.

        Parameters
        ----------
        frequency, recency, T : array_like
            Each customer's summary.
        spend : float or array_like
            Expected spend per future purchase (one, or one per customer).
        horizon, discount_rate, margin, period
            As in the base method.
        threads : int, optional
            As in the base method (the same result for any value).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per customer.

        Returns
        -------
        numpy.ndarray
            CLV per customer.
        """
        return self._per_customer(
            _clv,
            (frequency, recency, T),
            (purchase_covariates, dropout_covariates),
            threads,
            spend=spend,
            horizon=horizon,
            discount_rate=discount_rate,
            margin=margin,
            period=period,
        )

    def simulate(
        self,
        n_customers: int,
        T: Any,
        *,
        rng: np.random.Generator | int | None = None,
        purchase_covariates: Any = None,
        dropout_covariates: Any = None,
    ) -> BTYDSummary:
        """Simulate customers with these covariates from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            How many customers (the covariates have one row each).
        T : float or array_like
            Each customer's age at the end of the window.
        rng : numpy.random.Generator, int or None
            Randomness (an int seeds a new generator).
        purchase_covariates, dropout_covariates : array_like or dataframe
            One row per simulated customer.

        Returns
        -------
        BTYDSummary
            As :meth:`RepeatPurchaseModel.simulate`.
        """
        n = v.positive_int(n_customers, "n_customers")
        bound = self._with(purchase_covariates, dropout_covariates, n)
        out: BTYDSummary = RepeatPurchaseModel.simulate(bound, n, T, rng=rng)
        return out


def _clv(model: Any, frequency: Any, recency: Any, T: Any, *, spend: Any, **kwargs: Any) -> Any:
    """:meth:`RepeatPurchaseModel.customer_lifetime_value` with ``spend`` as a keyword."""
    return RepeatPurchaseModel.customer_lifetime_value(
        model, frequency, recency, T, spend, **kwargs
    )


def fit_data(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    covariates: Mapping[str, Any],
    *,
    constraints: Any,
    reg_lambdas: Any,
    check: Callable[[FloatArray], Any] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, CovariateDesign]:
    """The checked data of a repeat-purchase covariate fit: one row per customer, and the design.

    Parameters
    ----------
    frequency, recency, T : array_like
        The summary columns (one row per customer, aligned with the covariates).
    weights : array_like or None
        Customer weights (one per row).
    covariates : Mapping[str, Any]
        ``{"purchase": purchase_covariates, "dropout": dropout_covariates}``
        as given (None: the process has no covariates).
    constraints, reg_lambdas
        As :func:`make_design`.
    check : callable, optional
        A family's further check of the frequency column (for example its
        largest exact count), run right after the columns are validated.

    Returns
    -------
    tuple
        ``(frequency, recency, T, weights, design)`` as float arrays and a
        :class:`CovariateDesign`.

    Raises
    ------
    InvalidInputError
        If a column or the weights are invalid, no customer has a repeat
        purchase, neither process has covariates, or a covariate matrix,
        the constraints or the penalties are invalid.
    """
    x, tx, big_t = _as_rfm(frequency, recency, T)
    # a purchase count beyond 2**53 is no count (its neighbours are not floats): refused
    # for every family here (huge counts left the covariate likelihoods NaN, with warnings)
    v.check_range(
        x, "frequency", high=2.0**53, hint="a purchase count beyond 2**53 cannot be exact"
    )
    if check is not None:
        check(x)
    n = x.shape[0]
    w = _fit_weights(weights, n)
    if not np.any(x > 0):
        raise InvalidInputError(
            f"frequency is 0 for all {n} rows: without repeat purchases the model "
            "cannot be estimated; use a longer calibration window"
        )
    mats = {
        p: None if z is None else as_covariates(z, PROCESS_ARGUMENTS[p], n)
        for p, z in covariates.items()
    }
    if all(z is None for z in mats.values()):
        raise InvalidInputError(
            "constraints and reg_lambdas need covariates: pass purchase_covariates and/or "
            "dropout_covariates"
        )
    design = make_design(mats, constraints=constraints, reg_lambdas=reg_lambdas)
    return x, tx, big_t, w, design


def split_initial(
    initial: Any, names: Sequence[str], *, error: type[Exception] = InvalidTypeError
) -> tuple[dict[str, float], dict[str, float]]:
    """Starting values given to a fit: those of the base parameters and those of the coefficients.

    ``error`` is the class raised when ``initial`` is not a mapping.
    """
    if initial is None:
        return {}, {}
    if not isinstance(initial, Mapping):
        raise error(
            f"initial must be a mapping of parameter names to values, got {type(initial).__name__}"
        )
    base = {k: val for k, val in initial.items() if k in names}
    coefs = {str(k): val for k, val in initial.items() if k not in names}
    return base, coefs
